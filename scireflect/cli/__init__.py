"""The ``scireflect`` command line: commands parse flags and delegate to the library.

Each command group lives in its own module and registers itself on ``app``.
"""

from __future__ import annotations

import typer

app = typer.Typer(name="scireflect", no_args_is_help=True, add_completion=False,
                  help="Verified, self-reflective reasoning data for science and math models.")


def _register() -> None:
    # Imported for their side effect of adding commands to `app`.
    from scireflect.cli import (  # noqa: F401
        classifier_cmd,
        decontam_cmd,
        eval_cmd,
        retrieval_cmd,
        run_cmd,
        store_cmd,
        train_cmd,
        traces_cmd,
        verify_cmd,
    )


_register()


def main() -> None:
    app()
