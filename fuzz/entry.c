/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* Built once per harness, with PW_FUZZ_TARGET naming its pw_fuzz_* function. */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Outside the first input, so its allocation is not charged to an input. */
    pw_fuzz_wuhan();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return PW_FUZZ_TARGET(data, size);
}
