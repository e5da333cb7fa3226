"""What every magic family shares: user-facing errors, variable lookup, running cells."""
from __future__ import annotations

import ast
import contextlib
import linecache
import sys
import traceback
import warnings

from IPython.core.error import UsageError
from IPython.core.magic import Magics


def preprocessing_arguments(func):
    """The preprocessing options shared by %split (as the split's defaults) and %%train."""
    from IPython.core.magic_arguments import argument, argument_group

    decorators = [
        argument_group("preprocessing (inside the pipeline: fit on training rows/folds only)"),
        argument("--impute", default=None, choices=["median", "mean", "most_frequent", "knn", "drop"],
                 help="missing numeric values (drop: leave such rows out of fitting)"),
        argument("--scale", default=None, choices=["standard", "minmax", "robust", "none"]),
        argument("--encode", default=None, choices=["onehot", "ordinal", "target"], help="categorical columns"),
        argument("--outliers", default=None, choices=["none", "clip", "drop"], help="IQR rule"),
        argument("--balance", default=None, choices=["class_weight", "undersample", "oversample"]),
        argument("--interactions", action="store_true", default=None,
                 help="add pairwise products of numeric features"),
        argument("--poly", type=int, default=None, help="polynomial features of this degree"),
        argument("--select", default=None, help="rfe:K | mi:K | corr:THRESHOLD | variance:THRESHOLD | l1"),
    ]
    for decorate in reversed(decorators):
        func = decorate(func)
    return func


PREPROCESSING = ("impute", "scale", "encode", "outliers", "balance", "interactions", "poly", "select")


def preprocessing_options(args) -> dict:
    return {k: getattr(args, k) for k in PREPROCESSING if getattr(args, k, None) is not None}


QUOTES = ("'", '"')
# names IPython itself keeps in the namespace: -o must not overwrite them
IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "_", "__", "___", "_i", "_ii", "_iii",
                           "_ih", "_oh", "_dh"})


def unquote(text):
    """``'prix (€)'`` or ``"my target"`` -> the text inside the quotes; anything else as it is."""
    if isinstance(text, str) and len(text) >= 2 and text[0] in QUOTES and text[-1] == text[0] \
            and text[0] not in text[1:-1]:
        return text[1:-1]
    return text


def parse_line(parser, line: str):
    """The arguments of one magic's line, the one way every magic reads its line.

    A ``#`` outside quotes that starts a word begins a comment, as in Python
    (``%split df --target y   # 60/20/20``): it and the rest of the line are ignored. A trailing
    ``;`` (which only silences the output) is not part of the arguments. A quoted value means
    the text inside the quotes — ``--target 'prix (€)'``, ``--study ""``,
    ``--storage="my runs.db"`` — for every option and for single positional arguments (a
    variable name, a path); the words of an expression (``%train SVC(kernel='rbf')``) keep
    their quotes, since they are Python.
    """
    args = parser.parse_args(_unquote_option_values(parser, split_words(arguments_of(line))))
    for action in parser._actions:
        if not action.option_strings and action.nargs in (None, "?"):
            setattr(args, action.dest, unquote(getattr(args, action.dest, None)))
    return args


def arguments_of(line: str) -> str:
    """The line without its comment and without the trailing ``;`` that silences it."""
    return strip_comment(line).rstrip().rstrip(";")


def strip_comment(line: str) -> str:
    """``line`` up to a ``#`` that is outside quotes and starts a word (a ``#`` inside a word,
    ``--target n#``, is part of it; quote a value that starts with one: ``--target '#rooms'``)."""
    quote, previous = None, " "
    for at, char in enumerate(line):
        if quote is None and char == "#" and previous.isspace():
            return line[:at]
        if quote is None and char in QUOTES:
            quote = char
        elif char == quote:
            quote = None
        previous = char
    return line


def split_words(line: str) -> list:
    """The words of a line, split at whitespace outside quotes; quotes are kept (a quoted
    value is unquoted once it is known to be one, not Python) and may start mid-word:
    ``--target='prix (€)'`` is one word, as is ``f(x="a b")``."""
    words, word, quote, started = [], [], None, False
    for char in line:
        if quote is None and char.isspace():
            if started:
                words.append("".join(word))
            word, started = [], False
            continue
        if quote is None and char in QUOTES:
            quote = char
        elif char == quote:
            quote = None
        word.append(char)
        started = True
    if quote is not None:
        raise UsageError(f"the line opens a quote ({quote}) it does not close: close every quote you open")
    if started:
        words.append("".join(word))
    return words


def _unquote_option_values(parser, tokens: list) -> list:
    """``--opt 'a b'`` and ``--opt='a b'`` -> the value without its quotes (before argparse
    converts it: ``--cv '5'`` is 5)."""
    out, expects_value = [], False
    for token in tokens:
        if expects_value:
            value, flag = unquote(token), out.pop()
            # a value that starts with '-' would read as an option: keep it glued to its flag
            out.extend([f"{flag}={value}" if flag.startswith("--") else f"{flag}{value}"]
                       if value != token and value.startswith("-") else [flag, value])
            expects_value = False
            continue
        action = _option_action(parser, token.split("=", 1)[0]) if token.startswith("-") else None
        if action is not None and action.nargs is None:
            if "=" in token and token.startswith("--"):
                flag, value = token.split("=", 1)
                token = f"{flag}={unquote(value)}"
            else:
                expects_value = True
        out.append(token)
    return out


def _option_action(parser, flag: str):
    """The argparse action of ``flag`` (argparse's unambiguous prefixes included), else None."""
    actions = parser._option_string_actions
    if flag in actions:
        return actions[flag]
    if flag.startswith("--"):
        matches = {id(a): a for name, a in actions.items() if name.startswith(flag)}
        if len(matches) == 1:
            return next(iter(matches.values()))
    return None


def check_out_name(name) -> None:
    """``-o NAME`` must be a name a result can be stored under: checked before any work."""
    import keyword

    if name is None:
        return
    if not name.isidentifier():
        raise UsageError(f"-o {name}: {name!r} is not a valid variable name; use letters, digits and _, not "
                         f"starting with a digit (e.g. -o model_1)")
    if keyword.iskeyword(name):
        raise UsageError(f"-o {name}: {name!r} is a Python keyword, so the result could not be used by that name; "
                         f"choose another (e.g. -o {name}_)")
    if name in IPYTHON_NAMES:
        raise UsageError(f"-o {name}: IPython keeps {name!r} for itself; choose another name")


def check_folds(cv) -> None:
    """``--cv K`` on a line: K-fold cross-validation needs at least 2 folds (``--cv 0`` is not
    "no CV": leave --cv out for that)."""
    if cv is not None and cv < 2:
        raise UsageError(f"--cv {cv} is not a number of folds: cross-validation needs at least 2 (e.g. --cv 5); "
                         f"leave --cv out for the magic's default")


class NbmlMagicsBase(Magics):
    """A magic family with access to the shared ``Nbml`` configuration."""

    def __init__(self, shell, config):
        super().__init__(shell)
        self.nbml = config

    def parse(self, magic, line: str):
        """Parse a magic's line with its ``magic_arguments`` (see ``parse_line``), and check what
        can be checked before any work: the ``-o`` name and ``--cv``."""
        args = parse_line(magic.parser, line)
        check_out_name(getattr(args, "out", None))
        check_folds(getattr(args, "cv", None))
        return args

    def option(self, value, name):
        """The value given on the line, else the ``%config Nbml.<name>`` default."""
        return getattr(self.nbml, name) if value is None else value

    def lookup(self, expr: str, what: str = "variable"):
        """Evaluate a variable name (or short expression) in the user namespace."""
        expr = expr.strip()
        if not expr:
            raise UsageError(f"missing {what}")
        if expr.isidentifier():
            if expr not in self.shell.user_ns:
                raise UsageError(f"name {expr!r} is not defined in the notebook")
            return self.shell.user_ns[expr]
        try:
            return self.shell.ev(expr)
        except Exception as exc:
            if not self.nbml.short_errors:
                raise
            raise one_line_error(f"could not evaluate {expr!r}: {type(exc).__name__}: {exc} ({HOW_TO_SEE})",
                                 exc) from exc

    def target_of(self, data, name):
        """``--target NAME``: a column of ``data`` when it has one of that name; else a notebook
        variable of that name holding the target values (a 1-D array, list or Series), as a
        Series named after it (a Series keeps its own name); else ``name`` (core then says it is
        not a column). Returns ``(target, note)``: the note says a variable was used."""
        import numpy as np
        import pandas as pd

        columns = list(data.keys()) if isinstance(data, dict) else list(getattr(data, "columns", []))
        if name is None or name in columns or any(str(c) == name for c in columns):
            return name, None
        value = self.shell.user_ns.get(name) if name.isidentifier() else None
        if isinstance(value, pd.DataFrame) and value.shape[1] == 1:
            value = value.iloc[:, 0]
        if isinstance(value, (np.ndarray, list, tuple)) and np.ndim(value) == 2 and np.shape(value)[1] == 1:
            value = np.asarray(value).ravel()
        if not (isinstance(value, pd.Series) or (isinstance(value, (np.ndarray, list, tuple)) and np.ndim(value) == 1)):
            return name, None
        rows = len(data[columns[0]]) if isinstance(data, dict) and columns else len(data)
        if len(value) != rows:
            raise UsageError(f"--target {name}: {name!r} is not a column of the data, and the variable {name} holds "
                             f"{len(value)} values for {rows} rows; give one target value per row")
        if isinstance(value, pd.Series):
            target = value if value.name is not None else value.rename(name)
        else:
            target = pd.Series(np.asarray(value), name=name)
        return target, f"target {target.name!r}: the {type(value).__name__} variable {name}"

    @staticmethod
    def silenced(line, cell=None) -> bool:
        """A trailing ``;`` on the line (before any comment) or at the end of the cell's last
        statement (before any comment, as IPython reads a cell) silences the output."""
        return strip_comment(line).rstrip().endswith(";") or (cell is not None and _ends_with_semicolon(cell))

    def finish(self, result, out=None, quiet=False):
        """Store ``result`` under ``-o`` and return it, so it lands in ``_`` and is shown.
        IPython does not silence magics with ``;`` itself, so it is done here: ``_`` (and
        ``Out``) still get the result, nothing is shown."""
        self.store(out, result)
        if quiet:
            hook = self.shell.displayhook
            hook.update_user_ns(result)
            return None
        return result

    def store(self, name, value):
        if name:
            check_out_name(name)
            self.shell.user_ns[name] = value

    def run_body(self, body: str, what: str = "model"):
        """Run a cell body in the user namespace; return the value of its last expression."""
        filename = f"<cell of %%{what}, In [{self.shell.execution_count}]>"
        # tracebacks (%tb, short_errors off) show the body's lines, as IPython does for cells
        linecache.cache[filename] = (len(body), None, body.splitlines(keepends=True), filename)
        try:
            tree = ast.parse(body, filename=filename)
        except SyntaxError as exc:
            raise UsageError(f"syntax error in the cell, line {exc.lineno}: {exc.msg}") from None
        if not tree.body or not isinstance(tree.body[-1], ast.Expr):
            raise UsageError("the cell must end with an expression that is the model, e.g. "
                             "LogisticRegression()")
        last = ast.Expression(tree.body.pop().value)
        ns = self.shell.user_ns
        try:
            exec(compile(tree, filename, "exec"), ns)
            return eval(compile(last, filename, "eval"), ns)
        except Exception as exc:
            if not self.nbml.short_errors:
                raise
            lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
            where = f", line {lines[-1]}" if lines else ""
            raise one_line_error(f"the cell raised {type(exc).__name__}{where}: {exc} ({HOW_TO_SEE})", exc) from exc

    def errors(self, what: str):
        """``user_errors`` under this shell's ``%config Nbml.short_errors``; ``what`` names what
        failed (a model, a magic) in the line an unexpected exception gets."""
        return user_errors(what, short=self.nbml.short_errors)


def _ends_with_semicolon(cell: str) -> bool:
    """Whether the cell's last token, comments aside, is ``;`` (IPython's own rule for cells)."""
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(cell).readline))
    except (tokenize.TokenError, SyntaxError):
        return cell.rstrip().endswith(";")
    skip = (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.DEDENT, tokenize.INDENT)
    last = next((t for t in reversed(tokens) if t.type not in skip), None)
    return last is not None and last.type == tokenize.OP and last.string == ";"


# how to see what a one-line error hides
HOW_TO_SEE = "see the full traceback with %tb, or %config Nbml.short_errors = False"


@contextlib.contextmanager
def user_errors(what: str = "nbml", short: bool = True):
    """Show what core raises as one line (a ``UsageError``, no traceback), and warnings as one
    line each: bad input (``NbmlError``, and the ``ValueError``/``TypeError``/``KeyError`` core
    and libraries raise for it) as its message; anything else — a model's own failure, a bug —
    as ``{what} failed: Type: message`` and how to see its traceback. ``%tb`` after any of
    them shows the original exception's traceback. With ``short=False`` (``%config
    Nbml.short_errors = False``) everything but ``NbmlError`` is raised as it is."""
    with _capture_warnings(), _user_errors(what, short):
        yield


@contextlib.contextmanager
def _capture_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            _show_warnings(caught)


def _show_warnings(caught):
    """Each distinct warning once, on one line (CV repeats a model's warning per fold)."""
    seen = set()
    for w in caught:
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
            continue
        text = " ".join(part.strip() for part in str(w.message).splitlines() if part.strip())
        line = f"{w.category.__name__}: {text[:240]}{'…' if len(text) > 240 else ''}"
        if line not in seen:
            seen.add(line)
            print(line, file=sys.stderr)


@contextlib.contextmanager
def _user_errors(what, short):
    from nbml.errors import NbmlError, describe_error

    try:
        yield
    except UsageError:
        raise
    except NbmlError as exc:
        raise one_line_error(_readable(str(exc)), exc) from exc
    except (ValueError, TypeError, KeyError) as exc:
        if not short:
            raise
        raise one_line_error(_readable(str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)),
                             exc) from exc
    except Exception as exc:
        if not short:
            raise
        raise one_line_error(f"{what} failed: {_readable(describe_error(exc))} ({HOW_TO_SEE})", exc) from exc


def _readable(message: str) -> str:
    """An error from deep inside a library can be pages long: keep the line readable."""
    return message[:400] + " …" if len(message) > 400 else message


def one_line_error(message: str, original: BaseException) -> UsageError:
    """A ``UsageError`` (IPython shows its message alone) that remembers the exception it
    tells, so that ``%tb`` right after shows that exception's traceback (``keep_traceback``)."""
    error = UsageError(message)
    error.nbml_original = original
    return error


def keep_traceback(result) -> None:
    """``post_run_cell`` hook: after a cell failed with a one-line error, ``%tb`` shows the
    traceback of the exception it told instead of the ``UsageError``'s (IPython records the
    last error in ``sys.last_*`` before this runs)."""
    original = getattr(result.error_in_exec, "nbml_original", None)
    if original is None:
        return
    sys.last_type, sys.last_value, sys.last_traceback = type(original), original, original.__traceback__
    if sys.version_info >= (3, 12):
        sys.last_exc = original


def warn(message: str):
    print(message, file=sys.stderr)
