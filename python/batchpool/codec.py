"""Items and results as single lines of ASCII (base64 of a pickle): batch's
stream mode feeds one line per item and takes one line back."""

import base64
import pickle
import traceback

PROTOCOL = 4


def encode_item(args):
    """The arguments of one call (a tuple) as one line, without its newline."""
    return base64.b64encode(pickle.dumps(tuple(args), protocol=PROTOCOL)).decode("ascii")


def decode_item(line):
    return pickle.loads(base64.b64decode(line))


def encode_return(value):
    return base64.b64encode(pickle.dumps(("ok", value), protocol=PROTOCOL)).decode("ascii")


def encode_exception(error):
    """An exception raised by the function, with its traceback as text; the
    exception itself when it can be pickled, else its repr."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        payload = pickle.dumps(("error", error, text), protocol=PROTOCOL)
        pickle.loads(payload)  # some exceptions pickle but do not unpickle
    except Exception:
        payload = pickle.dumps(("error", None, text + "\n(" + repr(error) + " could not be pickled)"), protocol=PROTOCOL)
    return base64.b64encode(payload).decode("ascii")


def decode_result(line):
    """("ok", value) or ("error", exception or None, traceback text)."""
    return pickle.loads(base64.b64decode(line))
