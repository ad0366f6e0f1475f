/* Where the installed data files are: the data directory is fixed when the
 * library is built (FER_DATADIR, PREFIX/share/libfer from the Makefile). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#ifndef FER_DATADIR
#error "FER_DATADIR, the installed data directory, comes from the Makefile"
#endif

fer_status fer_data_path(const char *dir, const char *name, char *out, size_t cap,
                         fer_error *err)
{
    if (!name || !*name || !out || cap == 0)
        return fer_fail(err, FER_EINVAL, "fer_data_path: no file name, or no room for the path");
    const char *root = dir && *dir ? dir : FER_DATADIR;
    int n = snprintf(out, cap, "%s/%s", root, name);
    if (n < 0 || (size_t)n >= cap)
        return fer_fail(err, FER_ERANGE, "%s/%s: path longer than %zu bytes", root, name, cap - 1);
    if (access(out, R_OK) != 0)
        return fer_fail(err, FER_EIO, "%s: %s", out, strerror(errno));
    return FER_OK;
}
