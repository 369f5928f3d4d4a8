"""The ``scireflect`` command line: commands parse flags and delegate to the library.

Each command group lives in its own module and registers itself on ``app``.
"""

from __future__ import annotations

from typing import Annotated

import typer

# Plain (click-style) help: typer's Rich help reads "[default: ...]" and "[env: ...]" in help texts as
# markup and drops them, and shows <bool> for every flag.
app = typer.Typer(name="scireflect", no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  help="Verified, self-reflective reasoning data for science and math models.")


def _version(value: bool) -> None:
    if value:
        from scireflect import __version__

        typer.echo(f"scireflect {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="print the version and exit")] = False) -> None:
    pass  # options of `scireflect` itself; the app's help text is the Typer's


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
