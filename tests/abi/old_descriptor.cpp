// Claims ABI 1.0 but hands over a descriptor too small to hold the 1.0 functions.
#include <tributary/abi.h>

static trib_plugin_descriptor d = {sizeof(size_t) + 8, TRIB_ABI_MAJOR, 0, nullptr,
                                   nullptr, nullptr, nullptr, nullptr, nullptr};
extern "C" TRIB_EXPORT const trib_plugin_descriptor* tributary_plugin_entry(void) { return &d; }
