/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every installed header, compiled as C99 -pedantic and linked. */
#include <dmapipe/dmapipe.h>
#include <dmapipe/format.h>
#include <dmapipe/buffer.h>
#include <dmapipe/alloc.h>
#include <dmapipe/stream.h>
#include <dmapipe/pattern.h>
#include <dmapipe/record.h>
#include <dmapipe/v4l2.h>
#include <dmapipe/device.h>
#include <dmapipe/encoder.h>
#include <dmapipe/display.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
	struct dmapipe_server_options so;
	struct dmapipe_client_options co;
	struct dmapipe_recorder_options ro;
	struct dmapipe_reader_options rdo;
	struct dmapipe_v4l2_options vo;

	dmapipe_server_options_init(&so);
	dmapipe_client_options_init(&co);
	dmapipe_recorder_options_init(&ro);
	dmapipe_reader_options_init(&rdo);
	dmapipe_v4l2_options_init(&vo);
	if (vo.size != sizeof(vo) || vo.io != DMAPIPE_V4L2_IO_AUTO)
		return 1;
	if (so.size != sizeof(so) || co.size != sizeof(co) || ro.size != sizeof(ro) ||
	    rdo.size != sizeof(rdo))
		return 1;
	if (strcmp(dmapipe_version(), "0.1.0") != 0)
		return 1;
	if (strcmp(dmapipe_v4l2_role_to_string(DMAPIPE_V4L2_ENCODER), "encoder") != 0)
		return 1;
	{
		struct dmapipe_encoder_options eo;

		dmapipe_encoder_options_init(&eo);
		if (eo.size != sizeof(eo) || eo.io != DMAPIPE_ENCODER_IO_AUTO ||
		    strcmp(dmapipe_encoder_io_to_string(DMAPIPE_ENCODER_IO_COPY), "copy") != 0)
			return 1;
	}
	{
		struct dmapipe_display_options dpo;

		dmapipe_display_options_init(&dpo);
		if (dpo.size != sizeof(dpo) ||
		    strcmp(dmapipe_kms_plane_type_to_string(DMAPIPE_KMS_PLANE_PRIMARY),
			   "primary") != 0)
			return 1;
	}
	printf("dmapipe %s\n", dmapipe_version());
	return 0;
}
