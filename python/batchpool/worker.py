"""The long-lived worker batch runs in stream mode, one per worker slot:

    python3 .../batchpool/worker.py --name NAME --main SCRIPT --path JSON [--pack N] MODULE:FUNCTION

It imports the function once, then reads one item per line on stdin (the
pickled arguments, base64) and writes one line per item on stdout: the
pickled return value or exception. The per-item cost is a pickle round trip,
not an interpreter start. With ``--pack`` (a job made with ``chunksize``
above 1) each line carries a list of calls, and the answer the list of their
outcomes: one pickle round trip and one line per pack.

A function defined in the submitting script itself (module ``__main__``) is
found as multiprocessing's spawn start method finds it: the script is
imported by path as ``__mp_main__``, so its ``if __name__ == "__main__":``
block does not run again.

It is started by file path, not ``-m``: ``--path`` (the submitter's
``sys.path``) is applied before anything else is imported, so the function's
modules, and batchpool itself, are found as they were by the submitter.
"""

import importlib
import importlib.util
import json
import sys


def load_function(spec, main_path):
    module_name, _, qualname = spec.partition(":")
    if module_name == "__main__":
        if not main_path:
            raise SystemExit(f"batchpool worker: {spec} is defined in a script batchpool cannot find again")
        loader_spec = importlib.util.spec_from_file_location("__mp_main__", main_path)
        module = importlib.util.module_from_spec(loader_spec)
        # Pickles made by the script name its classes under __main__ (here
        # __mp_main__): both names must find the script's module.
        sys.modules["__mp_main__"] = module
        sys.modules["__main__"] = module
        loader_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    target = module
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def call(function, args):
    """One call of a pack: its outcome, the exception in its place."""
    try:
        return ("ok", function(*args))
    except Exception as error:
        from batchpool import codec
        return codec.exception_outcome(error)


def main(argv):
    options = {}
    while argv and argv[0].startswith("--"):
        options[argv[0][2:]] = argv[1]
        argv = argv[2:]
    if len(argv) != 1:
        raise SystemExit("usage: worker.py --name NAME [--main SCRIPT] [--path JSON] [--pack N] MODULE:FUNCTION")
    if "path" in options:
        sys.path[:] = json.loads(options["path"])
    from batchpool import codec  # after sys.path: the submitter's batchpool

    function = load_function(argv[0], options.get("main"))
    stdin = sys.stdin.buffer
    stdout = sys.stdout
    packed = int(options.get("pack", "1")) > 1
    for raw in stdin:
        if packed:
            line = codec.encode_outcomes([call(function, args) for args in codec.decode_item(raw.strip())])
        else:
            args = codec.decode_item(raw.strip())
            try:
                line = codec.encode_return(function(*args))
            except Exception as error:  # the caller gets it, in the item's place
                line = codec.encode_exception(error)
        stdout.write(line)
        stdout.write("\n")
        stdout.flush()


if __name__ == "__main__":
    # This file's folder (batchpool/) is sys.path[0] when run by path: it
    # must not shadow anything; --path replaces it.
    main(sys.argv[1:])
