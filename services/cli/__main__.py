"""``python -m services.cli ARGS``: the ``stic`` command run by the interpreter (same app as the script).

Useful where the console script is not on ``PATH`` (a probe running the real CLI with
``sys.executable``).
"""

from services.cli.main import app

app(prog_name="stic")
