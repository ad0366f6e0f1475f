/* Fuzz target: the heart-rate file reader (libfer/heart/heart_file.c), with the
 * adult defaults and with a personal resting rate. */
#include "fer.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_scratch(data, size);
    if (!path)
        return 0;
    fer_hr_opts adult = {0}, personal = {.age = 30, .resting_bpm = 55};
    fer_heart h;
    fer_error err;
    if (fer_heart_from_file(path, &adult, &h, &err) == FER_OK)
        fer_heart_from_file(path, &personal, &h, &err);
    return 0;
}
