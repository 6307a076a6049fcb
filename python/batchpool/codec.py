"""Items and results as single lines of ASCII (base64 of a pickle): batch's
stream mode feeds one line per item and takes one line back.

A job made with ``chunksize`` above 1 stores packs: each line carries up to
that many calls (a pickled list of argument tuples), and its result line the
list of their outcomes, as Pool sends a chunk of calls to a worker as one
task. A job without packs stores one call per line."""

import base64
import pickle
import traceback

PROTOCOL = 4

#: The largest pack line written: well under batch's default
#: ``--max-item-size`` (1 MiB). A pack whose encoding is larger is split in
#: two, and again, until each half fits or holds a single call.
PACK_LIMIT = 512 * 1024


def encode_item(args):
    """The arguments of one call (a tuple) as one line, without its newline."""
    return base64.b64encode(pickle.dumps(tuple(args), protocol=PROTOCOL)).decode("ascii")


def decode_item(line):
    return pickle.loads(base64.b64decode(line))


def encode_pack(calls):
    """A list of calls' arguments (tuples) as one line."""
    return base64.b64encode(pickle.dumps(calls, protocol=PROTOCOL)).decode("ascii")


def encoded_lines(calls, pack):
    """The lines the calls are stored as: one per call, or one per `pack`
    calls (fewer where a pack's line would pass PACK_LIMIT). The same calls
    and pack size give the same lines every time: a script run again is
    checked against what its job stored, line by line."""
    if pack <= 1:
        for args in calls:
            yield encode_item(args)
        return
    batch = []
    for args in calls:
        batch.append(tuple(args))
        if len(batch) == pack:
            yield from _fitting(batch)
            batch = []
    if batch:
        yield from _fitting(batch)


def _fitting(calls):
    line = encode_pack(calls)
    if len(line) <= PACK_LIMIT or len(calls) == 1:
        yield line
        return
    half = len(calls) // 2
    yield from _fitting(calls[:half])
    yield from _fitting(calls[half:])


def calls_in(line):
    """How many calls a stored pack line carries."""
    return len(decode_item(line))


def exception_outcome(error):
    """An exception raised by the function, with its traceback as text: the
    exception itself when it can be pickled, else None and its repr."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        pickle.loads(pickle.dumps(error, protocol=PROTOCOL))  # some exceptions pickle but do not unpickle
        return ("error", error, text)
    except Exception:
        return ("error", None, text + "\n(" + repr(error) + " could not be pickled)")


def encode_return(value):
    return base64.b64encode(pickle.dumps(("ok", value), protocol=PROTOCOL)).decode("ascii")


def encode_exception(error):
    return base64.b64encode(pickle.dumps(exception_outcome(error), protocol=PROTOCOL)).decode("ascii")


def encode_outcomes(outcomes):
    """A pack's outcomes as one line. A return value that cannot be pickled
    becomes the pickling error, at its call's place, as it does for a single
    call; the other calls keep their values."""
    try:
        payload = pickle.dumps(outcomes, protocol=PROTOCOL)
    except Exception:
        kept = []
        for outcome in outcomes:
            try:
                pickle.dumps(outcome, protocol=PROTOCOL)
                kept.append(outcome)
            except Exception as error:
                kept.append(exception_outcome(error))
        payload = pickle.dumps(kept, protocol=PROTOCOL)
    return base64.b64encode(payload).decode("ascii")


def decode_result(line):
    """("ok", value) or ("error", exception or None, traceback text); for a
    pack, a list of them."""
    return pickle.loads(base64.b64decode(line))
