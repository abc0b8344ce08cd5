"""The one exception type that stages turn into a clear message and a non-zero exit."""


class PipelineError(Exception):
    """A problem the user can fix (bad params, missing or corrupt data, unreachable service).

    The message names the problem and the fix; stages print it without a traceback.
    """
