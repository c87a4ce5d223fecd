"""``python -m tenant_rag.chat``: same options as ``tenant-rag chat-server``."""

from tenant_rag.chat.command import main

if __name__ == "__main__":
    main()
