"""Web app entry point: `python app.py [--host H] [--port P]` serves the guide on the embedded defaults."""

import argparse

from guide.config import Config
from guide.serve.api import serve

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the SEND process guide (page, embed and JSON API)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()
    serve(Config.from_env(), host=args.host, port=args.port)
