"""The web app. A plain Gradio chat over `Guide.ask`; the full parent page is built on the same entry point."""

from __future__ import annotations

from .config import Config


def build_app(guide):
    import gradio as gr

    def respond(message: str, history: list[dict]):
        reply = guide.ask(message, history=history)
        sources = "\n".join(f"[{c.n}] [{c.title}]({c.url}) - {c.heading}" for c in reply.citations)
        return reply.text + (f"\n\n**Sources**\n\n{sources}" if sources else "")

    return gr.ChatInterface(respond, title=guide.config.app_title, description=guide.config.app_intro,
                            examples=list(guide.config.app_examples))


def serve(config: Config, host: str = "127.0.0.1", port: int = 7860) -> None:
    from .core import Guide

    build_app(Guide(config)).launch(server_name=host, server_port=port, share=False)
