// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmapipe_vmtest - breaks the kernel on request, so that the VM test lane can
 * prove it notices kernel failures (tests/vm/selftest). Load it only in a
 * throw-away VM.
 *
 * action=none    load and unload cleanly (the taint message is expected)
 * action=warn    WARN() once, then load normally
 * action=bug     BUG() in module init: an oops, a panic with panic_on_oops
 * action=lockup  spin with preemption disabled: a soft lockup
 */

#include <linux/bug.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/preempt.h>
#include <linux/string.h>

static char *action = "none";
module_param(action, charp, 0444);
MODULE_PARM_DESC(action, "none, warn, bug or lockup");

static int __init vmtest_init(void)
{
	if (!strcmp(action, "none"))
		return 0;

	if (!strcmp(action, "warn")) {
		WARN(1, "dmapipe_vmtest: warning on request\n");
		return 0;
	}

	if (!strcmp(action, "bug")) {
		pr_emerg("dmapipe_vmtest: BUG() on request\n");
		BUG();
	}

	if (!strcmp(action, "lockup")) {
		pr_emerg("dmapipe_vmtest: spinning with preemption disabled on request\n");
		preempt_disable();
		for (;;)
			cpu_relax();
	}

	pr_err("dmapipe_vmtest: unknown action \"%s\"\n", action);
	return -EINVAL;
}

static void __exit vmtest_exit(void)
{
}

module_init(vmtest_init);
module_exit(vmtest_exit);

MODULE_DESCRIPTION("dmapipe VM lane self-test: oops, warning and lockup on request");
MODULE_LICENSE("GPL");
