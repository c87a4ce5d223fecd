"""Deprecated ``python -m tenant_rag.server``: runs ``python -m tenant_rag.chat`` (same options)."""

import sys

from tenant_rag.chat.command import main

if __name__ == "__main__":
    print(
        "note: 'python -m tenant_rag.server' is now 'python -m tenant_rag.chat' "
        "(or 'tenant-rag chat-server'); the old name goes in the next release.",
        file=sys.stderr,
    )
    main()
