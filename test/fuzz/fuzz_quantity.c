/* Quantity parser: never crashes, and a parsed value formats to text that
 * parses back to exactly the same value. */
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/quantity.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char text[128];
    if (size >= sizeof text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    sk_quantity q, back;
    if (sk_quantity_parse(text, &q, NULL) < 0)
        return 0;
    char shown[64];
    if (sk_quantity_parse(sk_quantity_format(q, shown, sizeof shown), &back, NULL) < 0 ||
        sk_quantity_cmp(q, back) != 0)
        abort();
    return 0;
}
