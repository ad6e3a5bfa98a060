// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmapipe: module, limits and counters, /dev/dmapipe.
 *
 * The module is a dma-buf exporter. /dev/dmapipe lets userspace allocate
 * buffers (dmapipe-ioctl.c); drivers use the exported API (dmapipe.h).
 * Every buffer counts against three limits, module parameters that can be
 * changed at run time; the counters are read-only attributes of the misc
 * device (/sys/class/misc/dmapipe/). A buffer holds a reference on this
 * module through its dma-buf, so the module cannot go while one exists.
 */

#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>

#include "dmapipe-priv.h"

static unsigned int max_total_mb = 1024;
module_param(max_total_mb, uint, 0644);
MODULE_PARM_DESC(max_total_mb, "Memory all buffers together may hold, MiB (0: no limit; default 1024)");

static unsigned int max_buffer_mb = 256;
module_param(max_buffer_mb, uint, 0644);
MODULE_PARM_DESC(max_buffer_mb, "Size of one buffer, MiB (0: no limit; default 256)");

static unsigned int max_buffers = 1024;
module_param(max_buffers, uint, 0644);
MODULE_PARM_DESC(max_buffers, "Number of buffers (0: no limit; default 1024)");

static DEFINE_SPINLOCK(counters_lock);
static u64 bytes_in_use;
static unsigned int buffers_in_use;

/*
 * A device of our own with a 64-bit DMA mask: the cache maintenance that
 * makes fresh coherent buffers safe on architectures whose DMA is not
 * coherent goes through it, and it is the parent of the misc device.
 */
static struct platform_device *dmapipe_pdev;
struct device *dmapipe_dma_dev;

void dmapipe_get_limits(u64 *max_total_bytes, u64 *max_buffer_bytes,
			unsigned int *max_bufs)
{
	*max_total_bytes = (u64)READ_ONCE(max_total_mb) << 20;
	*max_buffer_bytes = (u64)READ_ONCE(max_buffer_mb) << 20;
	*max_bufs = READ_ONCE(max_buffers);
}

/**
 * dmapipe_charge - count a new buffer against the limits
 * @size: its size in bytes
 *
 * Return: 0, -EFBIG when one buffer of @size is above max_buffer_mb, or
 * -EDQUOT when max_total_mb or max_buffers would be exceeded.
 */
int dmapipe_charge(size_t size)
{
	u64 max_total, max_buffer;
	unsigned int max_bufs;
	int ret = 0;

	dmapipe_get_limits(&max_total, &max_buffer, &max_bufs);
	if (max_buffer && size > max_buffer)
		return -EFBIG;

	spin_lock(&counters_lock);
	if ((max_total && size > max_total - min(bytes_in_use, max_total)) ||
	    (max_bufs && buffers_in_use >= max_bufs)) {
		ret = -EDQUOT;
	} else {
		bytes_in_use += size;
		buffers_in_use++;
	}
	spin_unlock(&counters_lock);
	return ret;
}

void dmapipe_uncharge(size_t size)
{
	spin_lock(&counters_lock);
	if (!WARN_ON_ONCE(!buffers_in_use || bytes_in_use < size)) {
		bytes_in_use -= size;
		buffers_in_use--;
	}
	spin_unlock(&counters_lock);
}

void dmapipe_get_counters(u64 *bytes, unsigned int *buffers)
{
	spin_lock(&counters_lock);
	*bytes = bytes_in_use;
	*buffers = buffers_in_use;
	spin_unlock(&counters_lock);
}

static ssize_t bytes_in_use_show(struct device *dev, struct device_attribute *attr,
				 char *buf)
{
	unsigned int buffers;
	u64 bytes;

	dmapipe_get_counters(&bytes, &buffers);
	return sysfs_emit(buf, "%llu\n", bytes);
}
static DEVICE_ATTR_RO(bytes_in_use);

static ssize_t buffers_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	unsigned int buffers;
	u64 bytes;

	dmapipe_get_counters(&bytes, &buffers);
	return sysfs_emit(buf, "%u\n", buffers);
}
static DEVICE_ATTR_RO(buffers);

static struct attribute *dmapipe_attrs[] = {
	&dev_attr_bytes_in_use.attr,
	&dev_attr_buffers.attr,
	NULL
};
ATTRIBUTE_GROUPS(dmapipe);

static const struct file_operations dmapipe_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = dmapipe_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice dmapipe_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmapipe",
	.fops = &dmapipe_fops,
	.groups = dmapipe_groups,
};

static int __init dmapipe_init(void)
{
	struct platform_device_info info = {
		.name = "dmapipe",
		.id = PLATFORM_DEVID_NONE,
		.dma_mask = DMA_BIT_MASK(64),
	};
	int ret;

	dmapipe_pdev = platform_device_register_full(&info);
	if (IS_ERR(dmapipe_pdev))
		return PTR_ERR(dmapipe_pdev);
	dmapipe_dma_dev = &dmapipe_pdev->dev;

	dmapipe_misc.parent = dmapipe_dma_dev;
	ret = misc_register(&dmapipe_misc);
	if (ret)
		goto err_unregister_pdev;
	return 0;

err_unregister_pdev:
	platform_device_unregister(dmapipe_pdev);
	return ret;
}

static void __exit dmapipe_exit(void)
{
	misc_deregister(&dmapipe_misc);
	platform_device_unregister(dmapipe_pdev);
	/* fences free themselves in RCU callbacks that run module code */
	dmapipe_fence_barrier();
}

module_init(dmapipe_init);
module_exit(dmapipe_exit);

MODULE_DESCRIPTION("dmapipe: dma-buf exporter for zero-copy video pipelines");
MODULE_AUTHOR("The dmapipe authors");
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1.0");
MODULE_IMPORT_NS(DMAPIPE_NS_DMA_BUF);
