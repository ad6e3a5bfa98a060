// SPDX-License-Identifier: LGPL-2.1-or-later
// The installed headers from C++.
#include <dmapipe/dmapipe.h>
#include <dmapipe/v4l2.h>
#include <dmapipe/encoder.h>
#include <dmapipe/display.h>

int main()
{
	struct dmapipe_server_options so;
	struct dmapipe_v4l2_options vo;
	struct dmapipe_display_options dpo;

	dmapipe_server_options_init(&so);
	dmapipe_v4l2_options_init(&vo);
	dmapipe_display_options_init(&dpo);
	return so.size == sizeof(so) && vo.size == sizeof(vo) && dpo.size == sizeof(dpo) &&
	       dmapipe_version() != nullptr &&
	       dmapipe_device_type_to_string(DMAPIPE_DEVICE_V4L2) != nullptr ? 0 : 1;
}
