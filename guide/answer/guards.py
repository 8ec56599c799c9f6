"""Guardrails: decide, before any search, whether a message should be answered, declined or signposted.

Each guard is a small function over the (redacted) message returning a Verdict or None. They are rules, not a
model, so they are fast, predictable and testable; each recognises a class of message by several cues.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..reply import HELP_SIGNPOST

SCOPE_NOTE = "I can only help with questions about special educational needs and disabilities (SEND) in England."

# Numbers checked 2026-11-23: Samaritans 116 123, free, any time (samaritans.org, contact page); NHS 111's mental
# health option for urgent help, 999 or A&E when life is at risk (lpft.nhs.uk "need help now", and NHS trust pages).
CRISIS_TEXT = (
    "I'm sorry you're going through this. You don't have to deal with it alone.\n\n"
    "If you feel you might harm yourself or can't keep yourself safe, call 999 or go to A&E now. "
    "You can talk to Samaritans at any time, day or night, free on 116 123 "
    "(https://www.samaritans.org/how-we-can-help/contact-samaritan/). "
    "For urgent mental health help in England, call NHS 111 and choose the mental health option "
    "(https://www.lpft.nhs.uk/contact-us/need-help-now)."
)

# Checked 2026-11-23: NSPCC helpline 0808 800 5000 and "call 999 if a child is in immediate danger"
# (nspcc.org.uk, "Report child abuse"); GOV.UK's "Report child abuse to a local council" finds the council's
# children's social care team. Schools must have a designated safeguarding lead (Keeping children safe in education).
SAFEGUARDING_TEXT = (
    "What you describe may mean a child is being harmed, and that matters more than any SEND process.\n\n"
    "If a child is in immediate danger, call 999. Otherwise you can report your concern to the children's social "
    "care team at the council where the child lives (https://www.gov.uk/report-child-abuse-to-local-council), "
    "or talk it through with the NSPCC helpline, free, on 0808 800 5000 "
    "(https://www.nspcc.org.uk/keeping-children-safe/reporting-abuse/report/). If it happened at school or "
    "college, you can also tell its designated safeguarding lead."
)


@dataclass
class Verdict:
    behaviour: str  # "decline" | "signpost" | "clarify" | "answer"
    reason: str
    text: str = ""
    # For "answer"-path verdicts that change the search rather than stop it:
    only_docs: tuple[str, ...] = ()
    prefix: str = ""
    stop: bool = True
    extra: dict = field(default_factory=dict)


def _rx(*parts: str) -> re.Pattern:
    return re.compile("|".join(parts), re.I)


# --- manipulation -------------------------------------------------------------------------------------------
_INJECTION = _rx(
    r"\b(ignore|disregard|forget|override|bypass)\b[^.?!\n]{0,40}\b(instructions?|rules|prompt|guidelines|"
    r"above|previous|prior|everything)\b",
    r"\byou are now\b", r"\bfrom now on,? (you|answer|say|respond)\b", r"\bnew instructions?\b",
    r"\b(developer|debug|god|dan|jailbreak) mode\b", r"\bpretend (to be|you are|you're)\b",
    r"\bact as (a|an|my)\b", r"^\s*(system|assistant)\s*:", r"\[(system|inst)\]", r"<\s*/?\s*system\s*>",
    # An instruction to state a number, not a parent quoting one ("they now say 20 weeks from today??").
    r"(^|[.!?:]\s*)(say|state|answer)\b[^.?!\n]{0,80}\b\d+\s+(weeks|days|months)\b",
    r"\b(tell (parents|people|everyone|users)|you (must|should|will|need to) (say|state|answer|tell))\b"
    r"[^.?!\n]{0,80}\b\d+\s+(weeks|days|months)\b",
    r"\balways (say|answer|reply)\b",
)
_SYSTEM_PROMPT = _rx(
    r"\b(system|initial|hidden|original|developer|secret)\s+(prompt|instructions?|message|rules)\b",
    r"\b(show|reveal|print|repeat|output|tell me|give me|what are|list|dump|display)\b[^.?!\n]{0,40}\byour"
    r"\s+(instructions|prompt|rules|configuration|config|guardrails|source code|code|files?|file names?|"
    r"knowledge base files|internal)\b",
    # "the" rules, code or instructions are a parent's question ("what are the rules?"); the prompt is not.
    r"\b(show|reveal|print|repeat|output|tell me|give me|what are|list|dump|display)\b[^.?!\n]{0,40}\bthe"
    r"\s+(prompt|system prompt|configuration|config|guardrails|source code|knowledge base files)\b",
    r"\b(show|reveal|print|repeat|output|list|dump|display)\b[^.?!\n]{0,40}\bthe\s+(instructions|rules|code|"
    r"files?|file names?|internal)\b",
    r"\bwhat (files|documents|file names) (are|do you have)\b[^.?!\n]{0,30}\b(loaded|stored|in your|on disk)\b",
    r"\b(environment variables|api keys?|\.env\b|config file)\b",
)
_FABRICATION = _rx(
    # "doctor" only as a verb ("doctor the report"): "a doctor's note" and "the GP is a doctor" are evidence asked for.
    r"\b(fake|forge|falsify|fabricate|make up|invent|backdate|back-date|"
    r"(?<!the )(?<!a )(?<!my )(?<!our )(?<!his )(?<!her )(?<!your )(?<!their )"
    r"doctor(?!'s|s\b)(?!\s+(says?|said|wrote|writes|thinks?|refused|won't|will|has|had)\b))\b[^.?!\n]{0,60}\b(report|letter|"
    r"diagnosis|evidence|records?|assessment|signature|note|certificate|statement|emails?|diary|log)\b",
    r"\b(write|draft|create|make)\b[^.?!\n]{0,40}\b(letter|report|note)\b[^.?!\n]{0,60}\b(pretend|pretending|"
    r"as if (it|i) (was|were|is) from|signed by|from (a|the|my|his|her) (doctor|gp|paediatrician|"
    r"psychologist|consultant|ep|therapist))\b",
    r"\b(pretend|claim|say)\b[^.?!\n]{0,30}\b(he|she|my (son|daughter|child)) (has|was diagnosed)\b[^.?!\n]{0,40}"
    r"\b(so|to) (we|i) (get|can get|qualify)\b",
    r"\bexaggerate\b[^.?!\n]{0,40}\b(needs|report|evidence|form)\b",
)
_DEFAMATION_ACTION = _rx(
    r"\b(write|draft|compose|create|post|publish|help me (write|post|say)|make)\b[^.?!\n]{0,60}"
    r"\b(post|review|statement|message|article|tweet|status|leaflet|letter to the (local )?(press|paper|newspaper|"
    r"media)|facebook|twitter|tiktok|social media|online|everyone|parents' (group|whatsapp)|naming)\b",
    r"\b(tell|warn) (everyone|all the parents|the whole school|the world)\b",
)
_DEFAMATORY = _rx(
    r"\b(liar|lying|lies|abus\w*|corrupt|fraud\w*|criminal|crook|thief|steals?|racist|paedo\w*|pervert|"
    r"drunk|incompetent|evil|should be (sacked|fired|struck off|jailed)|hates (disabled|sen) children|"
    r"is a disgrace|bribe\w*|backhanders?|kickbacks?|on purpose|deliberately|dishonest|cheat\w*|bent|useless)\b",
)

# --- scope ----------------------------------------------------------------------------------------------------
_NATIONS: dict[str, re.Pattern] = {
    "Scotland": _rx(r"\bscotland\b", r"\bscottish\b", r"\badditional support (for|needs)\b", r"\bASN\b",
                    r"\bco-?ordinated support plans?\b", r"\bCSP\b", r"\bASL Act\b",
                    r"\b(glasgow|edinburgh|aberdeen|dundee|inverness|fife|highland council)\b"),
    "Wales": _rx(r"\bwales\b", r"\bwelsh\b", r"\bcymru\b", r"\badditional learning needs?\b", r"\bALN\b",
                 r"\bALNCo\b", r"\bIDPs?\b", r"\bindividual development plans?\b",
                 r"\beducation tribunal for wales\b", r"\bSNAP Cymru\b",
                 r"\b(cardiff|swansea|wrexham|gwynedd|rhondda|caerphilly|pembrokeshire|powys|anglesey)\b"),
    "Northern Ireland": _rx(r"\bnorthern ireland\b", r"\bN\.? ?I\.?\b(?! number)", r"\bbelfast\b",
                            r"\bSENAC\b", r"\beducation authority\b", r"\b(derry|londonderry|newry|lisburn)\b"),
}
_MEDICAL = _rx(
    r"\b(does|do you think|could|might|can you tell (me )?if|is it possible)\b[^.?!\n]{0,40}\b(have|has|got|be)"
    r"\b[^.?!\n]{0,15}\b(autism|autistic|adhd|add|asd|dyslexi\w*|dyspraxi\w*|ocd|pda|tourette\w*|"
    r"epilepsy|cerebral palsy|a learning disability|depression|anxiety disorder|sensory processing disorder)\b",
    r"\b(diagnose|diagnosis of)\b[^.?!\n]{0,20}\b(him|her|them|my (son|daughter|child|kid))\b",
    r"\b(what|which|how much|should)\b[^.?!\n]{0,40}\b(medication|medicine|dose|dosage|mg|tablets?)\b",
    r"\b(melatonin|methylphenidate|ritalin|concerta|elvanse|atomoxetine|strattera|guanfacine|risperidone|"
    r"sertraline|fluoxetine)\b",
    r"\bside effects?\b", r"\b(is|are) (these|his|her|my child's) (symptoms|signs)\b",
    r"\bsymptoms of\b",
    r"\b(is|are)\b[^.?!\n]{0,40}\b(therapy|therapies|treatment|diet|supplements?|aba|medication)\b[^.?!\n]{0,20}"
    r"\b(safe|dangerous|harmful|effective|work)\b",
    r"\b(cream|ointment|plaster|bandage|rash|wound|infection|fever|temperature)\b",
    r"\bis (this|it|that) normal for\b",
)
_MEDICAL_BUT_IN_SCOPE = _rx(
    r"\b(ehc|ehcp|assessment|plan|school|council|tribunal|senco|need a diagnosis|without a diagnosis|"
    r"diagnosis (is|isn't|is not) (needed|required)|waiting list|support at school|medical conditions at school)\b"
)
_LEGAL_REP = _rx(
    r"\b(represent|defend)\b[^.?!\n]{0,20}\b(me|us|my (son|daughter|child|family))\b",
    r"\b(be|act as) (my|our) (lawyer|solicitor|barrister|advocate|legal representative|representative)\b",
    r"\b(take|handle|run|fight) (on )?(my|our) (case|appeal)\b",
    r"\b(come|attend|go) (to|with me to)\b[^.?!\n]{0,20}\b(tribunal|hearing|meeting|court)\b[^.?!\n]{0,20}"
    r"\b(with|for) (me|us)\b",
    r"\b(file|lodge|submit|write|send)\b[^.?!\n]{0,20}\b(my|our|the) (appeal|claim|case)\b"
    r"[^.?!\n]{0,15}\bfor (me|us)\b",
    r"\b(phone|call|email|write to|contact|speak to|ring)\b[^.?!\n]{0,15}\b(the )?(council|school|la|local "
    r"authority|caseworker)\b[^.?!\n]{0,15}\b(for|on behalf of) (me|us)\b",
    r"\b(are you|can you be) a (lawyer|solicitor)\b",
    # Suing, or what a claim would pay, is a solicitor's question; what a tribunal or the Ombudsman can award is
    # information the guide gives ("can the SEND tribunal award compensation?").
    r"\b(sue|suing|negligence claim|claim for negligence)\b",
    r"\bhow much (compensation|damages|money)\b[^.?!\n]{0,20}\b(would|could|will|can|might) (i|we)\b",
    r"\b(which|what|best|good|recommend\w*|name (of )?a)\b[^.?!\n]{0,20}"
    r"\b(solicitors?|lawyers?|barristers?|law firms?)\b",
    r"\bact as (my|our) (solicitor|lawyer|barrister|advocate)\b",
)
_NOT_SAID_OF_THE_SCHOOL = r"(?<!they )(?<!school )(?<!staff )(?<!teachers )(?<!nursery )(?<!college )(?<!setting )"
_DISTRESS = _rx(
    r"\b(kill (myself|my ?self|himself|herself|themselves)|end (it all|my life|his life|her life)|suicid\w*|"
    r"take (my|his|her) (own )?life|self[- ]?harm\w*|hurt(ing)? (myself|himself|herself)|wants? to die|"
    r"wish (i|he|she) (was|were) dead|better off (dead|without me)|cutting (himself|herself|her arms|his arms))\b",
    # The parent, not the school: "the school says they can't cope" is not distress.
    _NOT_SAID_OF_THE_SCHOOL +
    r"\b(can'?t|cannot|can not|don'?t know how to) (go on|take (it|this|any ?more)|carry on|do this any ?more)\b",
    # "cope" said of the child ("DS can't cope with the noise") is a need to meet, not a parent in crisis.
    _NOT_SAID_OF_THE_SCHOOL + r"(?<!he )(?<!she )(?<!ds )(?<!dd )(?<!son )(?<!daughter )(?<!child )(?<!kid )"
    r"(?<!him )(?<!her )\b(can'?t|cannot|can not|don'?t know how to) cope\b",
    r"\b(don'?t|do not) (want to|wanna) (be here|live|wake up)\b",
    r"\b(no|don'?t see (the|any)) point (in )?(living|going on|anymore|any more|in anything)\b",
    r"\b(i'?m|i am|i feel|we'?re|we are|i'?ve reached)\b[^.?!\n]{0,20}\b(breaking point|falling apart|"
    r"at the end of my tether|completely broken|in crisis|crisis point|at my wits'? end|drowning|"
    r"failing (him|her|them))",
    r"\b(can'?t stop crying|crying (every|all) (day|night|the time)|desperate and alone|not sleeping|"
    r"haven'?t slept)\b",
)
# A child at risk of harm from someone else: an adult hurting, hitting or abusing them, injuries from a setting,
# being locked in or held down, grooming, not being safe at home.
_ADULT = (r"(teachers?|staff|(teaching )?assistants?|\bta\b|head ?teacher|senco|carers?|(taxi |bus )?drivers?|"
          r"escorts?|an adult|a man|a woman|someone|somebody|(his|her|their|my) (dad|father|mum|mother|step-?dad|"
          r"step-?mum|uncle|partner|boyfriend|girlfriend))")
_SAFEGUARDING = _rx(
    _ADULT + r"[^.?!\n]{0,40}\b(hit|hits|hitting|slapped|slaps|punched|kicked|kicks|shook|shaking|"
    r"beat|beats|beating|abused|abuses|abusing|sexually|touched (him|her|them|my)|touching (him|her|them|my)|"
    r"locked (him|her|them|my \w+) in|dragged|grabbed|threw|throws|pinned|hurts? (him|her|them|my)|"
    r"hurting (him|her|them|my))\b",
    r"\b(he|she|they|(my|our) (son|daughter|child|kid|boy|girl|grandson|granddaughter|twins|children))\b"
    r"[^.?!\n]{0,20}\b(is|was|were|has been|have been|being|been|gets|got) (being )?"
    r"(physically |sexually |emotionally )?(abused|groomed|assaulted|hit by|hurt by|beaten|molested)\b",
    r"\b(sexual|physical|emotional) (abuse|assault)\b",
    r"\b(came|comes|come|coming) (home|back)\b[^.?!\n]{0,30}\b(bruis\w*|injur\w*|marks on|cuts|"
    r"a black eye|bleeding)\b",
    r"\b(locked|shut) (him|her|them|my \w+) in (a|the) (room|cupboard|toilet|office)\b",
    r"\b(held|pinned) (him|her|them|my \w+) down\b[^.?!\n]{0,40}\b(bruis\w*|injur\w*|hurt|marks)\b",
    r"\b(not|isn'?t|doesn'?t feel) safe at home\b",
    r"\b(scared|afraid|frightened) (to go|of going) home\b",
)
# After a safeguarding concern, the guide still answers a question about the SEND process in the same message
# (how to complain, what the EHC plan says); otherwise the safeguarding help is the whole reply.
_SEND_PROCESS = _rx(
    r"\b(ehc\w*|ehcp|senco|sendco|sen support|send|tribunal|appeal\w*|mediation|assessment|annual review|"
    r"exclu\w*|suspen\w*|complain\w*|ombudsman|local offer|provision|section [a-k]|transport|timetable|"
    r"move (him|her|them) to|change schools?|another school)\b"
)
_UNKNOWN_SPECIFIC = _rx(
    r"\b(my|our|the) (case ?worker|case officer|sen officer|named officer|ehc coordinator|ehc co-ordinator)\b"
    r"[^.?!\n]{0,40}\b(name|called|email|e-mail|phone number|number|contact details)\b",
    # "who is my SENCO?" asks for a name; "who is the SENCO and should I talk to them?" asks what a SENCO does.
    r"\bwho is (my|our|the) (case ?worker|case officer|sen officer)\b|\bwho is (my|our) (senco|head ?teacher)\b",
    r"\b(how many|what percentage|what proportion|what per ?cent|how much money|"
    r"how much (does|did|do) (the |my |our )?(council|la|local authority|school|icb|nhs|government)|"
    r"statistics|stats|league table|ranking|rank(ed)? (the )?(best|worst))\b"
    # ... unless it asks what is owed or how long ("how many hours should section F say?").
    r"(?![^.?!\n]{0,30}\b(weeks?|days?|months?|times|hours?|hrs|sessions?|minutes?|mins|lessons?|miles?|years?|"
    r"should|must|entitled|allowed|have to|had to|do we get|can)\b)",
    # Asking for a number ("what's the IPSEA helpline number"), not mentioning one ("a note with a phone number").
    r"\b(what'?s|what is|give me|send me|need|find|have you got|do you have|tell me)\b[^.?!\n]{0,30}"
    r"\b((phone|telephone|helpline|contact) (number|no\.?|details)|email address|opening hours)\b",
    r"\b(on average|average time|usually take|normally take|typically take|track record)\b",
    # A named school ("Is Oakfield Primary any good?"): the name is capitalised (case-sensitive), so "the school
    # ... best endeavours" is not one.
    r"\b(?-i:[A-Z][\w'’]+(\s[A-Z][\w'’]+)*)\s(Primary|Secondary|Academy|School|College|Infants?|Juniors?|Nursery)\b"
    r"[^.?!\n]{0,60}\b(any good|good for|rated|rating|recommend|reputation|best(?!\s+endeavou?rs?)|worst)\b",
)
_LOCAL_TOPIC = _rx(
    r"\b(inspect\w*|ofsted|cqc|written statement of action|wsoa|priority action plan|improvement notice|"
    r"local offer|what did (they|inspectors) find|findings|rated|rating|performance|how (good|bad) is|"
    r"waiting (times?|lists?)|how long (is|are) the wait|caseworker|sendiass (number|phone|contact)|"
    r"special schools? in|schools in|any good|on average|usually take|track record)\b"
)
_SEND_VOCAB = _rx(
    r"\b(send|sen|senco|sendco|ehc\w*|ehcp|education|health and care|special|needs?|disab\w*|school\w*|nursery|"
    r"college|council|local authority|la|tribunal|appeal\w*|mediation|assess\w*|plan|review|inspect\w*|ofsted|"
    r"cqc|teacher|pupil|child|children|son|daughter|kid|autis\w*|adhd|dyslexi\w*|learning|exclu\w*|"
    r"timetable|transport|complain\w*|ombudsman|lgsco|ipsea|sendiass|local offer|statement|provision|support|"
    r"budget|therap\w*|speech|wsoa|priority action|year \d+|reception|post-?16|sixth form|university|"
    r"young person|parent|carer|tribunal|diagnos\w*|camhs|icb|nhs|deadlines?)\b"
)
_UNRELATED_TASK = _rx(
    r"\b(recipes?|bake|baking|cook|cooking|cake)\b",
    r"\b(do|solve|answer|finish|complete)\b[^.?!\n]{0,30}\b(homework|equation|sum|maths|math|essay)\b",
    r"\bsolve\b[^.?!\n]{0,10}\d",
    r"\b(write|give|make|generate)\b[^.?!\n]{0,20}\b(python|javascript|code|script|program|poem|song|story|joke|"
    r"limerick|rap)\b",
    r"\b(scrape|scraper|web ?scraping)\b",
    r"\b(weather|football|premier league|horoscope|lottery|bitcoin|crypto|stock tips?|holiday deals?)\b",
)
_GREETING = _rx(r"^\s*(hi|hello|hey|good (morning|afternoon|evening)|thanks?|thank you|cheers|ok(ay)?)\b[\s!.]*$")
# "they said no" with nothing before it: who are "they", and no to what?
_DANGLING = _rx(r"\b(they|them|it|that|this|he|she)\b")
_VAGUE = _rx(
    r"^\s*(help|help me|deadline\??|what'?s the deadline\??|is (it|that|this) (legal|allowed|right|ok)\??|"
    r"what (now|next)\??|what do i do( now)?\??|what can i do\??|how long\??|can they do that\??|"
    r"is that right\??|any advice\??|what are my rights\??|what are my options\??)\s*[!.?]*\s*$"
)


_SENTENCE_SPLIT = re.compile(r"(?<=[.!?\n])[\"'”’)]*\s+")


def find_injection(text: str) -> list[str]:
    """The sentences of a message that try to give the guide instructions."""
    return [p for p in _SENTENCE_SPLIT.split(text) if _INJECTION.search(p)]


def strip_injection(text: str) -> str:
    bad = set(find_injection(text))
    return " ".join(p for p in _SENTENCE_SPLIT.split(text) if p not in bad).strip()


def _decline(reason: str, text: str) -> Verdict:
    return Verdict("decline", reason, text)


def guard_system_prompt(msg: str, has_history: bool) -> Verdict | None:
    if _SYSTEM_PROMPT.search(msg):
        return _decline(
            "system-prompt",
            "I can't share how I'm set up or the files behind me. " + SCOPE_NOTE
            + " You can ask me about EHC needs assessments, EHC plans, appeals or complaints.",
        )
    return None


def guard_fabrication(msg: str, has_history: bool) -> Verdict | None:
    if _FABRICATION.search(msg):
        return _decline(
            "fabrication",
            "I can't help to create, change or exaggerate evidence, reports or letters. False evidence can "
            "seriously harm your case and may be unlawful. What helps is real evidence: school records, reports "
            "from professionals and your own notes of what happens day to day. " + HELP_SIGNPOST,
        )
    return None


def guard_defamation(msg: str, has_history: bool) -> Verdict | None:
    if _DEFAMATION_ACTION.search(msg) and _DEFAMATORY.search(msg):
        return _decline(
            "defamation",
            "I can't help to write accusations about a named person. If you're unhappy with how someone has "
            "treated your child, a formal complaint keeps to the facts and gets a response. "
            "Ask me \"how do I complain about a school?\" or \"how do I complain about the council?\" "
            "to see the steps. " + HELP_SIGNPOST,
        )
    return None


def guard_other_nation(msg: str, has_history: bool) -> Verdict | None:
    for nation, pattern in _NATIONS.items():
        if pattern.search(msg):
            return Verdict(
                "signpost",
                f"other-nation:{nation.lower().replace(' ', '-')}",
                f"This guide covers England only. {nation} has its own system, with different terms, "
                "deadlines and places to get help, so the English rules do not apply there.",
                only_docs=("scotland-wales-northern-ireland",),
                stop=False,
                extra={"nation": nation},
            )
    return None


def guard_medical(msg: str, has_history: bool) -> Verdict | None:
    if _MEDICAL.search(msg) and not _MEDICAL_BUT_IN_SCOPE.search(msg):
        return Verdict(
            "signpost",
            "medical",
            "I can't give medical advice, diagnose a condition or advise on medication. Please speak to your "
            "GP, your child's paediatrician or the clinician who treats them. If it's urgent, call NHS 111.\n\n"
            "I can help with the education side: for example, your child does not need a diagnosis to get "
            "SEN support or an EHC needs assessment. " + HELP_SIGNPOST,
        )
    return None


def guard_legal_representation(msg: str, has_history: bool) -> Verdict | None:
    if _LEGAL_REP.search(msg):
        return Verdict(
            "signpost",
            "legal-representation",
            "I can't represent you, act for you or contact anyone on your behalf: I'm an information guide, "
            "not a lawyer. For free help with your case, contact your local SENDIASS (every council must provide "
            "one) or IPSEA (https://www.ipsea.org.uk), which offers advice and tribunal support. For "
            "representation, you can also ask a solicitor who specialises in education law.\n\n"
            "I can explain the steps and deadlines: ask me, for example, \"how do I appeal to the SEND tribunal?\"",
        )
    return None


def guard_distress(msg: str, has_history: bool) -> Verdict | None:
    if _DISTRESS.search(msg):
        return Verdict("signpost", "distress", CRISIS_TEXT, prefix=CRISIS_TEXT, stop=False)
    return None


def guard_safeguarding(msg: str, has_history: bool) -> Verdict | None:
    if _SAFEGUARDING.search(msg):
        return Verdict("signpost", "safeguarding", SAFEGUARDING_TEXT, stop=False)
    return None


def guard_injection_only(msg: str, has_history: bool) -> Verdict | None:
    if find_injection(msg) and not _SEND_VOCAB.search(strip_injection(msg)):
        return _decline(
            "injection",
            "I can't change how I work or follow instructions like that. " + SCOPE_NOTE
            + " Ask me a question about SEND and I'll answer from my sources.",
        )
    return None


def guard_vague(msg: str, has_history: bool) -> Verdict | None:
    if has_history:
        return None
    if _GREETING.match(msg):
        return Verdict("clarify", "greeting",
                       "Hello. " + SCOPE_NOTE + " What would you like to know? For example: \"How do I ask for "
                       "an EHC needs assessment?\" or \"How long does the council have to decide?\"")
    words = re.findall(r"[A-Za-z']+", msg)
    dangling = len(words) <= 8 and _DANGLING.search(msg) and not _SEND_VOCAB.search(msg) \
        and not re.search(r"\b[A-Z]{2,}\b", msg)  # "SENDIST - what does that mean" names its topic
    # An abbreviation is a word: "what is an OT" is a question, "wsoa?" still too short to read.
    if _VAGUE.match(msg) or len(re.findall(r"[A-Za-z]{3,}|\b[A-Z]{2,}\b", msg)) < 2 or dangling:
        return Verdict(
            "clarify",
            "vague",
            "I'd like to help, but I need a little more detail. What is happening, and at what stage are you? "
            "For example: asking for an EHC needs assessment, waiting for a decision, checking a draft plan, an "
            "annual review, or appealing a decision. Tell me what the council or school has said or done, and "
            "I'll explain the rules and deadlines that apply.",
        )
    return None


def guard_unrelated_task(msg: str, has_history: bool) -> Verdict | None:
    """A request for something else (a recipe, homework, code) is declined even when it mentions a child."""
    if _UNRELATED_TASK.search(msg):
        return _decline(
            "out-of-scope",
            "Sorry, I can't help with that. " + SCOPE_NOTE + " For example, I can explain how to ask for an "
            "EHC needs assessment, the deadlines the council must meet, or how to appeal.",
        )
    return None


def guard_unrelated(msg: str, has_history: bool) -> Verdict | None:
    """A first message with none of the words SEND questions use. Not one of GUARDS: the answer step declines it
    only when no section matches it well either ("what's the difference between sections B, F and I" is in
    scope without any of these words)."""
    if not has_history and not _SEND_VOCAB.search(msg):
        return _decline(
            "out-of-scope",
            "Sorry, I can't help with that. " + SCOPE_NOTE + " For example, I can explain how to ask for an "
            "EHC needs assessment, the deadlines the council must meet, or how to appeal.",
        )
    return None


def guard_unknown_specific(msg: str, has_history: bool) -> Verdict | None:
    if _UNKNOWN_SPECIFIC.search(msg):
        return Verdict(
            "signpost",
            "unknown-specific",
            "I don't know that: I don't hold details about individual councils, schools, staff or local "
            "figures. Your council's Local Offer website publishes its local SEND services and contacts, and "
            "your council's SEN team can tell you who is dealing with your child's case. " + HELP_SIGNPOST,
        )
    return None


def unknown_area_verdict(area: str) -> Verdict:
    return Verdict(
        "signpost",
        f"unknown-area:{area.lower()}",
        f"I don't know about {area}: my sources don't include information about {area}'s SEND services or "
        f"its inspection reports, so I can't tell you about them. Inspection reports for every area are "
        "published by Ofsted (search \"area SEND\" and the council's name on the Ofsted reports website). "
        f"{area}'s Local Offer website describes its local SEND services. " + HELP_SIGNPOST,
    )


def is_local_topic(msg: str) -> bool:
    return bool(_LOCAL_TOPIC.search(msg))


# The order matters: manipulation first, then safety, then scope.
GUARDS: list[Callable[[str, bool], Verdict | None]] = [
    guard_system_prompt,
    guard_legal_representation,
    guard_injection_only,
    guard_fabrication,
    guard_defamation,
    guard_distress,
    guard_safeguarding,
    guard_other_nation,
    guard_medical,
    guard_unknown_specific,
    guard_unrelated_task,
    guard_vague,
]
# After a message shows distress or a safeguarding concern, or names another nation, it is not turned away as vague
# or off-topic.
_SKIP_AFTER_DISTRESS = {guard_vague, guard_unrelated_task}

DISTRESS_ONLY = (
    "\n\nWhen you feel ready, I can help with the SEND side of things: for example, what the council must do "
    "and by when, or how to get free advice from your local SENDIASS or IPSEA."
)


def check(message: str, has_history: bool, context: str = "") -> list[Verdict]:
    """Run the guards in order; return the verdicts up to and including the first that stops the pipeline.

    `context` is the conversation so far (user turns) for a follow-up: a question about Wales stays about Wales.
    """
    verdicts: list[Verdict] = []
    distressed = routed = False
    for guard in GUARDS:
        if (distressed or routed) and guard in _SKIP_AFTER_DISTRESS:
            continue
        verdict = guard(message, has_history)
        if verdict is None and context and guard is guard_other_nation:
            verdict = guard(context, has_history)
        if verdict is None:
            continue
        verdicts.append(verdict)
        distressed = distressed or verdict.reason in ("distress", "safeguarding")
        routed = routed or bool(verdict.only_docs)
        if verdict.stop:
            break
    if any(v.stop for v in verdicts):
        return verdicts
    reasons = [v.reason for v in verdicts]
    if "safeguarding" in reasons and not _SEND_PROCESS.search(message):
        # Crisis support (if any) first, then the safeguarding help, and nothing else.
        texts = [v.text for v in verdicts if v.reason in ("distress", "safeguarding")]
        return [Verdict("signpost", "safeguarding", "\n\n".join(texts) + DISTRESS_ONLY)]
    if "distress" in reasons and "safeguarding" not in reasons and not _SEND_VOCAB.search(message):
        verdicts = [Verdict("signpost", "distress", CRISIS_TEXT + DISTRESS_ONLY)]
    return verdicts
