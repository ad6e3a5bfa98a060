// SPDX-License-Identifier: LGPL-2.1-or-later
// The installed headers from C++.
#include <dmapipe/dmapipe.h>

int main()
{
	struct dmapipe_server_options so;

	dmapipe_server_options_init(&so);
	return so.size == sizeof(so) && dmapipe_version() != nullptr &&
	       dmapipe_device_type_to_string(DMAPIPE_DEVICE_V4L2) != nullptr ? 0 : 1;
}
