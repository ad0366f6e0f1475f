/* Error codes and messages: every failure carries a readable line. */
#include <stdarg.h>
#include <stdio.h>

#include "core/core.h"

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
        /* One line, whatever a file or a server put into it: no newline,
         * no terminal escape (ESC and the other C0 controls, DEL). */
        for (char *p = err->msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
        err->code = code;
    }
    return code;
}

fer_status fer_fail_prefix(fer_error *err, fer_status code, const char *prefix)
{
    if (!err)
        return code;
    char inner[sizeof err->msg]; /* vsnprintf must not read the buffer it writes */
    snprintf(inner, sizeof inner, "%s", err->msg);
    return fer_fail(err, code, "%s: %s", prefix, inner);
}
