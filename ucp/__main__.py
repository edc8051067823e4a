"""``python -m ucp`` is the ``ucp`` command."""

from ucp.cli.main import main

if __name__ == "__main__":
    main()
