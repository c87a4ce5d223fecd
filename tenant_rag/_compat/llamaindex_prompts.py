"""The wording of llama-index-core (0.14)'s default prompts, as the extractive answerer reads it.

Not private names but the same risk: LlamaIndex formats retrieved nodes into
its own prompt templates, and `tenant_rag.models.llamaindex_prompts` finds the
context and the question in them by these markers. A reworded template would
silently degrade every local answer to "nothing relevant";
``tests/compat/test_canaries.py`` renders each installed template and checks
that these markers still find its context and question.
"""

from __future__ import annotations

import re

#: The dashed lines around the context in the QA, tree-summarize and context-chat templates.
DASHES = re.compile(r"^\s*-{5,}\s*$")
#: A node's metadata line (LlamaIndex's ``DEFAULT_METADATA_TMPL`` is ``"{key}: {value}"``).
META_LINE = re.compile(r"^[A-Za-z_][\w .-]{0,40}: \S")
#: The refine templates (chat and completion forms).
REFINE = re.compile(r"New Context:(.*?)\nQuery:(.*?)\nOriginal Answer:(.*?)\nNew Answer:", re.S)
REFINE_OLD = re.compile(
    r"The original query is as follows:(.*?)\nWe have provided an existing answer:(.*?)\n"
    r"We have the opportunity.*?\n-{5,}\n(.*?)\n-{5,}\n",
    re.S,
)
#: condense_plus_context's system prompt: the documents follow this line ...
DOCS_INTRO = "Here are the relevant documents for the context:"
#: ... and end at this one.
INSTRUCTION_PREFIX = "Instruction:"
#: Where the question starts after the context, and what ends it.
QUERY_PREFIX = "Query:"
ANSWER_MARKER = re.compile(r"\n(?:Answer|Refined Answer|New Answer):")
