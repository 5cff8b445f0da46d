#!/usr/bin/env python
"""Run project commands: ``python manage.py --help``."""

import os


def main() -> None:
    os.environ.setdefault("SETTINGS_MODULE", "settings.development")
    from project.management import execute_from_command_line

    execute_from_command_line()


if __name__ == "__main__":
    main()
