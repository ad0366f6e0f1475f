/* Fuzz target: the FER2013 CSV reader (libfer/emotion/dataset.c), strict and with
 * skip_bad, on whatever bytes libFuzzer makes up. */
#include "fer.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_scratch(data, size);
    if (!path)
        return 0;
    /* Strict for even sizes, skip_bad for odd ones: mutations change the
     * size often, so both see every kind of input at half the cost. */
    fer_dataset ds;
    fer_error err;
    fer_dataset_load_csv(path, (int)(size & 1), &ds, &err);
    fer_dataset_free(&ds);
    return 0;
}
