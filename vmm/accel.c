// SPDX-License-Identifier: BSD-3-Clause
/*
 * Accelerator probe (accel.h). The probe boot runs QEMU directly, not
 * through libvirt: it must work before any domain exists and must not
 * leave a domain behind. The child is ours: it is killed by its pid on
 * timeout and always reaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "vmm/accel.h"

const char *vmm_accel_domain_type(enum vmm_accel a)
{
	return a == VMM_ACCEL_KVM ? "kvm" : "qemu";
}

const char *vmm_accel_name(enum vmm_accel a)
{
	return a == VMM_ACCEL_KVM ? "kvm" : "tcg";
}

static int cpu_has_virt(void)
{
	char line[8192];
	FILE *f = fopen("/proc/cpuinfo", "re");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5))
			found = strstr(line, " vmx") || strstr(line, " svm");
	fclose(f);
	return found;
}

static int kvm_api_ok(char *why, size_t len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, ver;

	if (fd < 0)
		return wave_reason(why, len, -errno, "/dev/kvm: %s", strerror(errno));
	ver = ioctl(fd, KVM_GET_API_VERSION, 0);
	vm = ver == KVM_API_VERSION ? ioctl(fd, KVM_CREATE_VM, 0) : -1;
	close(fd);
	if (ver != KVM_API_VERSION)
		return wave_reason(why, len, -ENODEV, "/dev/kvm: API version %d, want %d", ver,
				   KVM_API_VERSION);
	if (vm < 0)
		return wave_reason(why, len, -ENODEV, "/dev/kvm: KVM_CREATE_VM failed");
	close(vm);
	return 0;
}

/* Boots the probe guest under KVM; 0 if it printed its readiness line in time. */
static int kvm_boots(const char *images, char *why, size_t len)
{
	char kernel[4096], initrd[4096], buf[4096];
	size_t got = 0;
	uint64_t end = wave_now_ns() + VMM_ACCEL_BOOT_TIMEOUT_S * WAVE_NSEC_PER_SEC;
	int pfd[2], status, ready = 0;
	pid_t pid;

	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", images);
	snprintf(initrd, sizeof(initrd), "%s/initramfs.img", images);
	if (access(kernel, R_OK) || access(initrd, R_OK))
		return wave_reason(why, len, -ENOENT, "no guest image in %s (run 'make images')",
				   images);
	if (pipe2(pfd, O_CLOEXEC))
		return wave_reason(why, len, -errno, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execlp("qemu-system-x86_64", "qemu-system-x86_64", "-accel", "kvm", "-cpu", "host",
		       "-m", "128", "-smp", "1", "-nographic", "-no-reboot", "-nodefaults",
		       "-serial", "stdio", "-kernel", kernel, "-initrd", initrd, "-append",
		       "console=ttyS0 quiet panic=-1 wave.workload=probe", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return wave_reason(why, len, -errno, "fork: %s", strerror(errno));
	}
	while (!ready && wave_now_ns() < end) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(pfd[0], buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		ready = strstr(buf, "WAVE-READY") != NULL;
		if (got > sizeof(buf) / 2) { /* keep the tail: the line may straddle */
			memmove(buf, buf + got - 64, 64);
			got = 64;
		}
	}
	close(pfd[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (!ready)
		return wave_reason(why, len, -ETIMEDOUT,
				   "a Linux guest did not boot under KVM within %d s",
				   VMM_ACCEL_BOOT_TIMEOUT_S);
	return 0;
}

static void boot_id(char *buf, size_t size)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int)size, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

static int cache_read(const char *cache, enum vmm_accel *out, char *why, size_t len)
{
	char id[64], line[512], cid[64] = "", acc[16] = "", reason[512] = "";
	FILE *f = fopen(cache, "re");

	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "boot_id=", 8))
			snprintf(cid, sizeof(cid), "%.63s", line + 8);
		else if (!strncmp(line, "accel=", 6))
			snprintf(acc, sizeof(acc), "%.15s", line + 6);
		else if (!strncmp(line, "reason=", 7))
			snprintf(reason, sizeof(reason), "%s", line + 7);
	}
	fclose(f);
	boot_id(id, sizeof(id));
	if (!id[0] || strcmp(id, cid) || (strcmp(acc, "kvm") && strcmp(acc, "tcg")))
		return -ESTALE;
	*out = strcmp(acc, "kvm") ? VMM_ACCEL_TCG : VMM_ACCEL_KVM;
	wave_reason(why, len, 0, "%s (cached this boot)", reason);
	return 0;
}

static void cache_write(const char *cache, enum vmm_accel a, const char *reason)
{
	char id[64], tmp[4096], dir[4096];
	char *slash;
	FILE *f;

	boot_id(id, sizeof(id));
	snprintf(dir, sizeof(dir), "%s", cache);
	if ((slash = strrchr(dir, '/'))) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	snprintf(tmp, sizeof(tmp), "%s.%d", cache, (int)getpid());
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "boot_id=%s\naccel=%s\nreason=%s\n", id, vmm_accel_name(a), reason);
	if (fclose(f) || rename(tmp, cache))
		unlink(tmp);
}

int vmm_accel_probe(const char *images, const char *cache, int fresh, enum vmm_accel *out,
		    char *why, size_t len)
{
	char reason[512];
	int ret;

	if (cache && !fresh && !cache_read(cache, out, why, len))
		return 0;
	*out = VMM_ACCEL_TCG;
	if (!cpu_has_virt()) {
		snprintf(reason, sizeof(reason), "tcg: the CPU advertises neither vmx nor svm");
	} else if (kvm_api_ok(reason + 5, sizeof(reason) - 5)) {
		memcpy(reason, "tcg: ", 5);
	} else if ((ret = kvm_boots(images, reason + 5, sizeof(reason) - 5))) {
		memcpy(reason, "tcg: ", 5);
		if (ret == -ENOENT) /* cannot tell yet: do not cache */
			return wave_reason(why, len, ret, "%s", reason + 5);
	} else {
		*out = VMM_ACCEL_KVM;
		snprintf(reason, sizeof(reason), "kvm: vmx/svm, /dev/kvm and a test boot all work");
	}
	if (cache)
		cache_write(cache, *out, reason);
	wave_reason(why, len, 0, "%s", reason);
	return 0;
}
