"""The one home of every private name of an upstream library that tenant_rag uses.

Upstream private names (a leading underscore: modules, attributes, keyword
arguments) can change in any release without notice. Each one tenant_rag
relies on is used here and only here, in a small accessor that says why it is
needed and what happens without it; ``tests/compat/test_canaries.py`` holds a
canary per name, which fails loudly against the installed version when the
name is gone or changed (a fast path silently falling back to the slow one
would otherwise go unnoticed), and ``tests/compat/test_private_names.py``
scans the rest of tenant_rag for private upstream names that bypass this
package.

* `pinecone_sdk`: the SDK's REST transport (``Index._vector_api.api_client``,
  ``openapi_support``), its per-value type checks (``_check_type``,
  ``_check_return_type``), its OpenAPI models' field storage (``_data_store``),
  its asyncio index class and its handles' ``_config``.
* `langchain_pinecone`: ``DistanceStrategy`` (only in ``langchain_pinecone._utilities``)
  and the two ``langchain_core`` hooks a store subclass calls
  (``_select_relevance_score_fn``, ``_get_retriever_tags``).
* `llamaindex`: ``_to_pinecone_filter``, the store's ``_sparse_embedding_model``
  and ``_pinecone_index``.
* `llamaindex_prompts`: the wording of LlamaIndex's default prompt templates,
  which the local extractive answerer reads back.

This package imports nothing else of tenant_rag but `tenant_rag.errors`.
"""
