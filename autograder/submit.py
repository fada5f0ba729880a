"""Send your saved notebook to the course's grading service and see your grade: `submit()` in a notebook cell.

    from autograder.submit import submit
    submit()                      # or submit("optimizers.ipynb") when the notebook cannot be found

It sends the notebook *as last saved* (save with Ctrl-S first), prints the score of every question and
a link to your feedback page in the notebook's language (its metadata, as the grader reads it; else the
checks' language), and returns the reply as a dict. Where to send and who you are:

- the environment variables AUTOGRADER_URL and AUTOGRADER_TOKEN, or
- the file ~/.config/taming-exploding-gradients/submit.ini (under $XDG_CONFIG_HOME if set):

      [submit]
      url = https://grader.example.edu/
      token = the token your instructor mailed you

It needs only the standard library and the course's own message catalog, so it works in any Jupyter that can
import this course's package.
"""

from __future__ import annotations

import configparser
import datetime
import http.client
import json
import os
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

APP = "taming-exploding-gradients"


def config_path() -> Path:
    """Where the url and token may be kept."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / APP / "submit.ini"


def _words(lang: str | None) -> Any:
    """`words(code, **params)`: a message of the catalog as text in `lang` (the checks' language when None)."""
    from autograder.checks import messages

    return messages.translator(lang or messages.language())


def _language(data: bytes) -> str | None:
    """The language the notebook asks for, read as the grader reads it (notebook_i18n.notebook_language)."""
    from autograder.notebook_i18n import notebook_language

    try:
        return notebook_language(json.loads(data))
    except ValueError:
        return None


def assignment_of(data: bytes, fallback: str) -> str:
    """The course assignment whose test cells (nbgrader grade_ids) the notebook holds most of: a renamed copy
    (`optimizers-Copy1.ipynb`, `optimizers (1).ipynb`) is still that assignment's; `fallback` (the file's name) when
    it holds none."""
    from autograder.checks import ASSIGNMENTS

    try:
        cells = json.loads(data).get("cells", [])
        ids = {cell["metadata"]["nbgrader"]["grade_id"] for cell in cells if isinstance(cell, dict)
               and isinstance(cell.get("metadata"), dict) and isinstance(cell["metadata"].get("nbgrader"), dict)
               and isinstance(cell["metadata"]["nbgrader"].get("grade_id"), str)}
    except (ValueError, AttributeError, TypeError):
        return fallback
    held = {aid: len(ids & {q.grade_id for q in a.questions}) for aid, a in ASSIGNMENTS.items()}
    best = max(held, key=lambda aid: held[aid], default=None)
    return best if best is not None and held[best] > 0 else fallback


def _settings(url: str | None, token: str | None) -> tuple[str, str]:
    """The service's URL and the token: arguments, else environment, else the config file."""
    parser = configparser.ConfigParser()
    parser.read(config_path())
    section = parser["submit"] if parser.has_section("submit") else {}
    url = url or os.environ.get("AUTOGRADER_URL") or section.get("url")
    token = token or os.environ.get("AUTOGRADER_TOKEN") or section.get("token")
    if not url or not token:
        raise RuntimeError(_words(None)("submit.no_url" if not url else "submit.no_token", path=str(config_path())))
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise RuntimeError(_words(None)("submit.bad_url", url=url, path=str(config_path())))
    return url.rstrip("/") + "/", token.strip()


def find_notebook() -> Path:
    """The notebook this kernel runs, as Jupyter tells the kernel (JupyterLab, Notebook 7, VS Code)."""
    from autograder.kernel_notebook import named

    for path in named():
        return path
    here = sorted(Path.cwd().glob("*.ipynb"))
    if len(here) == 1:
        return here[0]
    raise RuntimeError(_words(None)("submit.which_notebook", example="'optimizers.ipynb'"))


class Unreachable(Exception):
    """No reply from the service (refused, no route, timed out, not HTTP): `reason` says what happened; `sent`: the
    notebook went out and the reply did not come in time, so the service may have stored it and still grade it."""

    def __init__(self, reason: str, sent: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.sent = reason, sent


def _post(url: str, token: str, data: bytes, timeout: float) -> tuple[int, dict[str, Any]]:
    """POST the bytes; (status, JSON reply) whatever the status; Unreachable when no reply came."""
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/x-ipynb+json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read())
        except ValueError:
            return error.code, {"error": f"HTTP {error.code} {error.reason}"}
    except urllib.error.URLError as error:
        raise Unreachable(str(error.reason)) from None
    except TimeoutError as error:  # sent, then no reply in time (urlopen wraps a timeout while sending in URLError)
        raise Unreachable(f"{type(error).__name__}: {error}", sent=True) from None
    except (OSError, ValueError, http.client.HTTPException) as error:  # a timeout, a reset, a reply that is not JSON
        raise Unreachable(f"{type(error).__name__}: {error}") from None


def _report(status: int, reply: dict[str, Any], say: Any, words: Any) -> None:
    """Print what the service said, worded by `words` (see _words); the rows come worded by the service."""
    from autograder.checks.wording_grader import STATUSES

    if "rows" in reply and status == 200:
        say(words("submit.score_late" if reply.get("late") else "submit.score", assignment=str(reply["assignment"]),
                  score=f"{reply['score']:g}", points=f"{reply['max_score']:g}", number=str(reply["submission"])))
        # the columns are as wide as their widest entry, so that a long test name does not push its row out of line
        shown = [words(f"status.{row['status']}") if f"status.{row['status']}" in STATUSES else str(row["status"])
                 for row in reply["rows"]]
        names = [str(row["grade_id"]) for row in reply["rows"]]
        scores = [f"{row['score']:g}/{row['max_score']:g}" for row in reply["rows"]]
        wide = [max(map(_width, column), default=0) for column in (shown, names, scores)]
        for *cells, row in zip(shown, names, scores, reply["rows"], strict=True):
            say("  " + " ".join(_padded(cell, width) for cell, width in zip(cells, wide, strict=True))
                + f"  {row['message']}")
        for note in reply.get("notes", []):
            say("  " + words("submit.note", note=str(note)))
    elif status == 202:
        say(words("submit.accepted", number=str(reply.get("submission"))))
    else:
        say(words("submit.refused" if status != 504 or "message" in reply else "submit.not_yet", status=str(status),
                  reason=_reason(status, reply, words)))
    if reply.get("feedback") and status in (200, 202, 422):
        say(words("submit.feedback", url=str(reply["feedback"])))


def _width(text: str) -> int:
    """How many terminal columns `text` takes (a Chinese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _padded(text: str, columns: int) -> str:
    """`text` padded to `columns` terminal columns, so the rows line up."""
    return text + " " * max(0, columns - _width(text))


#: What a reply without the service's own message means, by status: these come from a proxy in front of it (nginx's
#: client_max_body_size, a service that is down, a proxy that stopped waiting for the grade).
PROXY = {413: "submit.proxy_too_large", 502: "submit.proxy_down", 503: "submit.proxy_down",
         504: "submit.proxy_timeout"}


def _reason(status: int, reply: dict[str, Any], words: Any) -> str:
    """Why the service refused: its message worded here (in the notebook's language), else what the status means
    when a proxy answered, else its English line."""
    from autograder.message import BadMessage, Message

    if "message" in reply:
        try:
            message = Message.from_plain(reply["message"])
            return str(words(message.code, **dict(message.params)))
        except (BadMessage, KeyError, ValueError):
            pass
    if status in PROXY:
        return str(words(PROXY[status]))
    return str(reply.get("error") or words("submit.no_reason"))


def submit(path: str | os.PathLike[str] | None = None, assignment: str | None = None, *, url: str | None = None,
           token: str | None = None, timeout: float = 120.0, say: Any = print) -> dict[str, Any]:
    """Send the saved notebook (found, or `path`) for `assignment` (default: the one whose test cells it holds, else
    the file's name); print and return the reply (it has 'status_code', and 'error' when it was refused)."""
    notebook = Path(path) if path is not None else find_notebook()
    base, secret = _settings(url, token)
    try:
        saved, data = notebook.stat().st_mtime, notebook.read_bytes()
    except OSError as error:
        raise RuntimeError(_words(None)("submit.no_notebook", path=str(notebook), error=error.strerror or str(error))
                           ) from None
    assignment = assignment or assignment_of(data, notebook.stem)
    words = _words(_language(data))
    say(words("submit.sending", notebook=notebook.name, time=f"{datetime.datetime.fromtimestamp(saved):%H:%M:%S}",
              ago=f"{time.time() - saved:.0f}"))
    try:
        status, reply = _post(base + "api/submit/" + urllib.parse.quote(assignment, safe=""), secret, data, timeout)
    except Unreachable as failure:  # one line in the notebook's language, no traceback: nothing was graded
        reply = {"error": words("submit.no_answer", url=base, seconds=f"{timeout:g}") if failure.sent else
                 words("submit.unreachable", url=base, error=failure.reason)}
        say(reply["error"])
        return {**reply, "status_code": 0}
    _report(status, reply, say, words)
    return {**reply, "status_code": status}
