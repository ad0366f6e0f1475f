/* Error codes and messages: every failure carries a readable line. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

const char *fer_status_str(fer_status s)
{
    switch (s) {
    case FER_OK: return "ok";
    case FER_EINVAL: return "invalid argument";
    case FER_ENOMEM: return "out of memory";
    case FER_EIO: return "input/output error";
    case FER_EFORMAT: return "malformed data";
    case FER_ERANGE: return "value out of range";
    case FER_ENET: return "network error";
    case FER_EUNSUPPORTED: return "unsupported";
    }
    return "unknown error";
}

fer_status fer_fail(fer_error *err, fer_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}
