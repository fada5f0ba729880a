"""The English wording of the batch grader's message codes and of the feedback page (autograder/grading/).

Part of the one catalog (autograder/checks/messages.py): what a student reads on the feedback page besides the
checks' own messages, i.e. why a question could not be judged, the notes about repairs, statuses and chrome.
"""

from __future__ import annotations

GRADER = {
    # a phase of the sandbox that wrote no result (grading/core/judging.py)
    "run.timeout": "{what} did not finish within the {seconds} s time limit (endless loop?)",
    "run.killed": "the process running {what} was killed by {signal}",
    "run.killed_memory": "the process running {what} was killed by {signal} (out of memory?)",
    "run.infrastructure": "grading infrastructure error: {error}",
    "run.unwritable": "the results of {what} could not be written (too large, or memory ran out)",
    "run.exit": "the code ended its own process (exit code {code}) while running {what}",
    "run.refused_malformed": "the result channel of {what} carried bytes that are not a result frame, written by "
                             "code other than the grader's: nothing after them counts",
    "run.refused_order": "the result channel of {what} carried a result frame out of order, written by code other "
                         "than the grader's: nothing after it counts",
    "run.question": "{functions} (for {grade_id})",
    "run.cells": "the notebook's cells",
    "run.cells_named": "the notebook's cells {cells}",
    # what a cell of the notebook raised when it ran ({error}: run.error or run.error_at)
    "run.cell_error": "cell {cell}: {error}",
    "run.test_cell_error": "its test cell failed before grading, as it does under nbgrader: {error} (was a read-only "
                           "cell deleted, or `check` redefined?)",
    "run.error": "{type}: {text}",
    "run.error_at": "{type}: {text} (cell {cell}, line {line})",
    # a result file that cannot be judged
    "results.unreadable": "the submission's results could not be read back (malformed or too large)",
    "results.count": "{outputs} outputs for {cases} cases",
    "results.unjudged": "the outputs could not be judged: {error}",
    "results.too_long": "the message about this question was too long to keep",
    "missing.memory": "{names} not defined: the notebook ran out of memory ({limit} MB limit)",
    "missing.function": "function {names} is not defined",
    "missing.function_error": "function {names} is not defined; first error: {error}",
    "memory.question": "{functions} ran out of memory ({limit} MB limit)",
    "forbidden.called": "{functions} called {shortcuts}, which this exercise forbids",
    "forbidden.uses": "{functions} uses {shortcuts}, which this exercise forbids: write the computation yourself",
    # the notebook against its source (grading/inbox/sanitize.py, inbox/notebook.py, core/student.py)
    "tampered.deleted": "test cell '{cell}' was deleted from the notebook",
    "tampered.duplicated": "test cell '{cell}' appears {count} times (duplicated)",
    "malformed.foreign": "none of the answer or test cells of assignment '{assignment}' are in this notebook (is it "
                         "another assignment's notebook, or were the cell ids removed?)",
    "malformed.code_size": "the notebook's code is {size} bytes, more than the {limit} the grader runs for one "
                           "submission",
    "malformed.empty": "the file is empty",
    "malformed.too_large": "the file is {size} bytes, more than the {limit} a notebook may have",
    "malformed.json_values": "the file holds more than the {limit} JSON values a notebook may have (junk entries?)",
    "malformed.not_utf8": "the file is not UTF-8 text (byte {byte}); save it from Jupyter again",
    "malformed.too_deep": "the file is nested too deeply to be a notebook",
    "malformed.not_json": "the file is not valid notebook JSON (truncated or edited by hand?): {error}",
    "malformed.not_notebook": "the file is JSON but not a Jupyter notebook (no 'nbformat' field)",
    "malformed.nbformat": "nbformat {version} is not supported (expected 4, or 3 which is upgraded)",
    "malformed.upgrade": "nbformat 3 notebook could not be upgraded to nbformat 4: {error}",
    "malformed.no_cells": "the notebook has no list of cells",
    "malformed.too_many_cells": "the notebook has {count} cells, more than the {limit} a notebook may have",
    "upload.none": "no notebook submitted",
    "upload.problem": "{reason}",
    "internal.not_graded": "not graded (internal error)",
    "internal.error": "internal grader error: {error}",
    "internal.stored": "internal grader error: the stored result cannot be used ({reason}); regrade with --student",
    # notes on a result
    "note.late": "submitted late (LMS marker)",
    "note.after_deadline": "submitted after the deadline",
    "note.locked_missing": "read-only cell '{cell}' was deleted, so it did not run (as under nbgrader): copy it back "
                           "from the released notebook",
    "note.restored_edited": "read-only cell '{cell}' was edited; the original was restored",
    "note.answer_missing": "answer cell '{cell}' was deleted",
    "note.retyped": "cell '{cell}' was changed into a {cell_type} cell; it ran as the code cell it is, as under "
                    "nbgrader",
    "note.test_edited": "test cell '{cell}' was edited; tests always run from the original",
    "note.nbformat3": "the notebook was in the old nbformat 3 and was upgraded to nbformat 4 for grading",
    "note.cells_ignored": "cell(s) {cells} {why} and were ignored",
    "note.cells_more": "{cells} and {more} more",
    "note.why.not_objects": "are not cell objects",
    "note.why.unreadable_source": "have an unreadable source",
    "note.more_notes": "... and {count} more notes (only the first {limit} are kept)",
    "note.output_cut": "printed output beyond {limit} bytes per stream was cut",
    "note.output_capped": "captured output beyond {limit} characters per stream was cut",
    "note.output_dropped": "captured output dropped: the result exceeded {limit} bytes",
}

#: A row's status, as the feedback page names it.
STATUSES = {f"status.{name}": name for name in (
    "passed", "partial", "failed", "error", "forbidden", "timeout", "memory", "malformed", "missing", "tampered")}

#: The feedback page's chrome (grading/outputs/templates/feedback.html.j2).
PAGE = {
    "page.title": "{assignment} — feedback for {student}",
    "page.unsandboxed": "Graded without a sandbox ({sandbox}).",
    "page.total": "Total:",
    "page.late": "(late)",
    "page.stop": ".",
    "page.to_work_on": "To work on:",
    "page.first_in_table": "(first in the table, each linked to the section of the book that teaches it).",
    "page.all_passed": "Every test passed.",
    "page.hidden_inputs": "Hidden tests used inputs drawn for you from the course key",
    "page.case_set": "(case set {case})",
    "page.same_inputs": "; regrading this notebook draws the same inputs.",
    "page.col.test": "test",
    "page.col.score": "score / points",
    "page.col.status": "status",
    "page.col.why": "why",
    "page.col.read": "read",
    "page.cell_errors": "Errors while running your cells",
    "page.stdout": "Printed output",
    "page.stderr": "Warnings and errors printed",
    # the Moodle worksheet's "Feedback comments" (grading/outputs/totals.py), which Moodle shows the student
    "page.lms_comment": "autograder: {outcome}",
}

#: What `submit()` prints in a student's notebook (autograder/submit.py), and the service's refusals it shows there
#: (autograder/grading/drivers/service/app.py): in the notebook's language.
SUBMIT = {
    "submit.sending": "sending {notebook} as saved at {time} ({ago} s ago; save first if you changed it since)",
    "submit.score": "{assignment}: {score} / {points} points (submission {number})",
    "submit.score_late": "{assignment}: {score} / {points} points (submission {number}, late)",
    "submit.note": "note: {note}",
    "submit.accepted": "accepted (submission {number}); still grading",
    "submit.refused": "not graded ({status}): {reason}",
    "submit.no_reason": "no reason given",
    "submit.feedback": "feedback: {url}",
    "submit.no_url": "no service URL: set AUTOGRADER_URL and AUTOGRADER_TOKEN, or write them in {path} "
                     "(see autograder/submit.py)",
    "submit.no_token": "no token: set AUTOGRADER_URL and AUTOGRADER_TOKEN, or write them in {path} "
                       "(see autograder/submit.py)",
    "submit.which_notebook": "cannot tell which notebook to send: pass its path, e.g. submit({example})",
    "submit.no_notebook": "cannot read the notebook {path}: {error}",
    "submit.bad_url": "the service URL {url} is not an http(s) address: check AUTOGRADER_URL or {path}",
    "submit.unreachable": "could not reach the grading service at {url}: {error} (check the address and your "
                          "network, then submit again)",
    "submit.no_answer": "no answer from the grading service at {url} within {seconds} s: your notebook was sent, so "
                        "it may still be graded; submit again in a few minutes to see your grade (every submission "
                        "counts toward the hourly limit)",
    "submit.not_yet": "no grade yet ({status}): {reason}",
    "submit.proxy_too_large": "the notebook is larger than the service accepts; large outputs such as "
                              "images are the usual cause: clear all outputs, save, and submit again",
    "submit.proxy_down": "the grading service is not answering; try again in a few minutes",
    "submit.proxy_timeout": "the service's proxy stopped waiting for the grade; your notebook was sent, so "
                            "it may still be graded: submit again in a few minutes to see your grade",
    "service.bad_token": "missing or unknown token: send the header {header}",
    "service.unknown_assignment": "no assignment {assignment} here; this service grades {served}",
    "service.deadline": "the deadline of {assignment} ({deadline}) has passed and late work is not accepted",
    "service.rate": "rate limit: {limit} submissions of {assignment} per hour; try again in {seconds} s",
    "service.too_large": "the notebook is larger than the {limit} bytes this service accepts",
    "service.uploading": "{count} notebooks of yours are still being sent to this service; wait until they have "
                         "arrived, then submit again",
    "service.stalled": "the notebook stopped arriving (nothing for {seconds} s); submit it again",
    "service.accepted": "accepted; still grading: open the feedback link shortly",
}

#: The service's pages for students and instructors (grading/drivers/service/templates/), in the browser's language.
SERVE_PAGES = {
    "serve.upload.title": "Submit a notebook",
    "serve.upload.intro": "Save your notebook in Jupyter first, then choose the saved .ipynb file. It is graded at "
                          "once by the same grader as the final grades; the reply shows your score and links to "
                          "your feedback.",
    "serve.upload.token": "Your token",
    "serve.upload.assignment": "Assignment",
    "serve.upload.notebook": "Notebook",
    "serve.upload.send": "Submit",
    "serve.upload.rules": "Rules",
    "serve.upload.grading": "grading…",
    "serve.upload.score": "Score: {score} / {points} (submission {number})",
    "serve.upload.feedback": "your feedback",
    "serve.upload.unreachable": "could not reach the grader: {error}",
    "serve.login.title": "Token needed",
    "serve.login.feedback": "Enter your token to see your feedback.",
    "serve.login.open": "Open",
    "serve.login.unknown": "unknown token",
    "serve.login.instructor": "Enter your instructor token.",
    "serve.instructors.title": "Instructors only",
    "serve.instructors.only": "This page is for instructors.",
    "serve.not_found": "Not found",
    "serve.not_yours": "No such submission of yours.",
    "serve.not_served": "That assignment is not served.",
    "serve.grading.title": "Still grading",
    "serve.grading.wait": "This submission is still being graded: reload the page in a few seconds.",
    "serve.policy": "{counts}; deadline: {deadline}; {late}; {rate}",
    "serve.policy.best": "the best submission counts",
    "serve.policy.latest": "the latest submission counts",
    "serve.policy.accept": "late work is graded, marked late, and counts",
    "serve.policy.ignore": "late work is graded and shown but never counts",
    "serve.policy.refuse": "late work is refused",
    "serve.policy.rate": "at most {limit} submissions per hour",
    "serve.policy.no_rate": "no limit on submissions",
    "serve.policy.no_deadline": "none",
    "serve.instructor.title": "Instructor",
    "serve.instructor.counts": "Submissions stored: {submissions}; graded: {results}; waiting: {queued}.",
    "serve.instructor.rules": "Rules: {rules}",
    "serve.instructor.report": "live cohort report",
    "serve.instructor.export": "the files autograder grade writes (grades.csv, totals.csv, lms/, feedback/), "
                               "for the gradebook",
}
