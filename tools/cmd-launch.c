// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl launch FILE.xml: start a VM from libvirt domain XML.
 *
 * Fills the @WAVE_...@ placeholders (images, accelerator, name, addresses,
 * console file), checks the result (vmm/domxml.h: errors name the element
 * and line), picks the domain type from the accelerator probe, then defines
 * the domain (libvirt validates it against its schema) and starts it. A
 * domain it defined but could not start is undefined again.
 *
 * QEMU runs as its own user (libvirt-qemu on Debian), which must be able
 * to reach the guest images: every directory on the way searchable by
 * others. A checkout under a private directory (mktemp -d makes 0700) is
 * not; then the images are copied (again only when they changed) to
 * STAGE_DIR, libvirt's directory for QEMU's files, and used from there.
 * The alternative, widening the permissions of the user's directories, is
 * not ours to do.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "common/log.h"
#include "common/opt.h"
#include "common/site.h"
#include "netctl/switch-client.h"
#include "tools/wavectl.h"
#include "vmm/accel.h"
#include "vmm/conn.h"
#include "vmm/domxml.h"

#define XML_MAX (1 << 20)
#define STAGE_DIR "/var/lib/libvirt/images/wave-vm"

struct launch_opts {
	const char *file, *name, *ip, *uri, *images_opt;
	int accel;                 /* enum vmm_accel, or -1: probe */
	int no_switch;
	char images[4096];
	char vhost[4096];          /* the VM's vhost-user socket once on the switch */
};

static const struct wave_name accels[] = {
	{ "probe", -1 }, { "tcg", VMM_ACCEL_TCG }, { "kvm", VMM_ACCEL_KVM }, { NULL, 0 },
};

static struct launch_opts lo = { .accel = -1 };

static const struct opt launch_opts_table[] = {
	OPT_STRING("name", "NAME", &lo.name, "domain name (default: the XML's <name>, or the file's)"),
	OPT_STRING("ip", "ADDR", &lo.ip, "guest address on the bridge (default: the first free\n"
		   SITE_NET "N)"),
	OPT_ENUM("accel", "A", &lo.accel, accels, "the accelerator: probe where KVM really boots"),
	OPT_STRING("images", "DIR", &lo.images_opt, "guest images (default: $WAVE_IMAGES or build/images)"),
	OPT_STRING("uri", "URI", &lo.uri, "libvirt URI (default: $WAVE_URI or qemu:///system)"),
	OPT_BOOL("no-switch", 0, &lo.no_switch, "keep the VM on the bridge while wave-switch is up"),
	OPT_END(),
};

static const struct opt_cmd launch_cmd = {
	.name = "launch",
	.usage = "wavectl launch FILE.xml [OPTIONS]",
	.about = "Starts a VM from libvirt domain XML (see images/xml/). Placeholders\n"
		 "@WAVE_NAME@, @WAVE_ACCEL@, @WAVE_IMAGES@, @WAVE_IP@, @WAVE_HOST_IP@,\n"
		 "@WAVE_BRIDGE@ and @WAVE_CONSOLE@ are filled in; the domain type becomes kvm\n"
		 "only where KVM can really boot a Linux guest (probed once per host boot),\n"
		 "else qemu (TCG). Prints the domain's name and its vCPU threads.\n",
	.opts = launch_opts_table,
	.min_args = 1,
	.max_args = 1,
};

/* Others (QEMU's user) may search every directory down to dir and read its files. */
static int reachable_by_others(const char *dir)
{
	char path[PATH_MAX], *p;
	struct stat st;
	struct dirent *e;
	DIR *d;
	int ok = 1;

	if (!realpath(dir, path))
		return 1; /* missing: the XML checks say so */
	if (!(d = opendir(path)))
		return 1;
	while (ok && (e = readdir(d)))
		ok = fstatat(dirfd(d), e->d_name, &st, 0) || !S_ISREG(st.st_mode) ||
		     (st.st_mode & S_IROTH);
	closedir(d);
	/* Each directory from dir up to / searchable by others. */
	while (ok) {
		if (stat(path, &st) || !(st.st_mode & S_IXOTH))
			return 0;
		if (!strcmp(path, "/"))
			break;
		p = strrchr(path, '/');
		p[p == path] = '\0';
	}
	return ok;
}

/* Copies from to to (mode 0644, from's mtime) unless to has from's size and mtime. */
static int copy_if_changed(const char *from, const char *to)
{
	struct stat a, b;
	char tmp[PATH_MAX + 300], buf[1 << 16];
	int in, out, ret = 0;
	ssize_t n;

	if (stat(from, &a))
		return -errno;
	if (!stat(to, &b) && a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
	    a.st_mtim.tv_nsec == b.st_mtim.tv_nsec)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", to);
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		ret = -errno;
		close(in);
		return ret;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			ret = -EIO;
			break;
		}
	if (n < 0)
		ret = -errno;
	if (!ret && (fchmod(out, 0644) || futimens(out, (struct timespec[2]){ a.st_atim, a.st_mtim })))
		ret = -errno;
	close(in);
	if (close(out) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, to))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* o->images, or the copy in STAGE_DIR where QEMU's user cannot reach it (see the top). */
static void images_for_qemu(struct launch_opts *o)
{
	char from[PATH_MAX + 260], to[PATH_MAX + 260];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int ret = 0;

	if (reachable_by_others(o->images) || !(d = opendir(o->images)))
		return;
	if (geteuid() != 0) {
		closedir(d);
		wave_warn("launch: QEMU's user may not reach %s (a directory on the way is "
			  "private); run as root to have the images copied where it can", o->images);
		return;
	}
	mkdir(STAGE_DIR, 0755);
	while (!ret && (e = readdir(d))) {
		snprintf(from, sizeof(from), "%s/%s", o->images, e->d_name);
		snprintf(to, sizeof(to), "%s/%s", STAGE_DIR, e->d_name);
		if (!stat(from, &st) && S_ISREG(st.st_mode))
			ret = copy_if_changed(from, to);
	}
	closedir(d);
	if (ret) {
		wave_warn("launch: cannot copy the images to %s (%s): QEMU may not reach %s",
			  STAGE_DIR, strerror(-ret), o->images);
		return;
	}
	wave_info("launch: %s is not reachable by QEMU's user (a private directory on the "
		  "way): using copies in %s", o->images, STAGE_DIR);
	snprintf(o->images, sizeof(o->images), "%s", STAGE_DIR);
}

static int parse(int argc, char **argv, struct launch_opts *o)
{
	int first, ret = opt_parse(&launch_cmd, argc, argv, &first);

	if (ret)
		return ret;
	o->file = argv[first];
	if (o->images_opt)
		snprintf(o->images, sizeof(o->images), "%s", o->images_opt);
	else
		site_images_dir(o->images, sizeof(o->images));
	images_for_qemu(o);
	return 0;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f) {
		wave_err("launch: %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(XML_MAX + 1);
	n = buf ? fread(buf, 1, XML_MAX + 1, f) : 0;
	fclose(f);
	if (buf && n > XML_MAX) {
		wave_err("launch: %s: larger than %d bytes", path, XML_MAX);
		free(buf);
		return NULL;
	}
	if (buf)
		buf[n] = '\0';
	return buf;
}

/* Default name: the file name without directory and ".xml". */
static void default_name(const char *file, char *buf, size_t size)
{
	char tmp[4096], *base, *dot;

	snprintf(tmp, sizeof(tmp), "%s", file);
	base = basename(tmp);
	if ((dot = strrchr(base, '.')) && !strcmp(dot, ".xml"))
		*dot = '\0';
	snprintf(buf, size, "%s", base);
}

/* Lowest SITE_NET address (10..250) that no defined domain's command line uses. */
static int pick_ip(virConnectPtr v, char *buf, size_t size)
{
	unsigned char used[256] = { 0 };
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(v, &doms, 0);

	for (int i = 0; i < n; i++) {
		char *xml = virDomainGetXMLDesc(doms[i], VIR_DOMAIN_XML_INACTIVE);
		const char *p = xml;

		while (p && (p = strstr(p, "wave.ip=" SITE_NET))) {
			p += strlen("wave.ip=" SITE_NET);
			if (atoi(p) > 0 && atoi(p) < 256)
				used[atoi(p)] = 1;
		}
		free(xml);
		virDomainFree(doms[i]);
	}
	free(doms);
	for (int a = 10; a <= 250; a++)
		if (!used[a]) {
			snprintf(buf, size, SITE_NET "%d", a);
			return 0;
		}
	wave_err("launch: no free address left in " SITE_NET "10-250 (use --ip)");
	return -ENOSPC;
}

static int choose_accel(const struct launch_opts *o, enum vmm_accel *a)
{
	char why[512], cache[4096];

	if (o->accel >= 0) {
		*a = (enum vmm_accel)o->accel;
		return 0;
	}
	site_path(cache, sizeof(cache), NULL, SITE_ACCEL_CACHE);
	if (vmm_accel_probe(o->images, cache, 0, a, why, sizeof(why))) {
		wave_err("launch: accelerator probe: %s", why);
		return -EIO;
	}
	wave_dbg("launch: accelerator %s", why);
	return 0;
}

/* Fills placeholders and checks the XML. On success *dx holds the domain. */
static int prepare(const struct launch_opts *o, virConnectPtr v, const char *text,
		   struct vmm_domxml **dx, struct vmm_domxml_info *info)
{
	char name[64], ip[32] = "", console[4096], why[512], *filled = NULL;
	enum vmm_accel accel;
	struct vmm_fill f;
	int ret;

	default_name(o->file, name, sizeof(name));
	if (o->name)
		snprintf(name, sizeof(name), "%s", o->name);
	if ((ret = choose_accel(o, &accel)))
		return ret;
	if (o->ip)
		snprintf(ip, sizeof(ip), "%s", o->ip);
	else if (vmm_xml_uses(text, "@WAVE_IP@") && (ret = pick_ip(v, ip, sizeof(ip))))
		return ret;
	snprintf(console, sizeof(console), "%s/console/%s.log", site_rundir(), name);
	f = (struct vmm_fill){ .name = name, .accel = vmm_accel_domain_type(accel),
			       .images = o->images, .ip = ip[0] ? ip : NULL,
			       .host_ip = site_host_ip(), .bridge = site_bridge(),
			       .console = console };
	ret = vmm_xml_fill(text, &f, &filled, why, sizeof(why));
	if (!ret)
		ret = vmm_domxml_parse(filled, dx, info, why, sizeof(why));
	free(filled);
	if (ret) {
		wave_err("launch: %s: %s", o->file, why);
		return ret;
	}
	/* --name wins over a literal <name>; the probe wins over a literal type. */
	if (o->name)
		snprintf(info->name, sizeof(info->name), "%s", o->name);
	if (strcmp(info->type, vmm_accel_domain_type(accel)))
		wave_warn("launch: %s asks for type '%s'; using '%s' (%s here)", o->file,
			  info->type, vmm_accel_domain_type(accel), vmm_accel_name(accel));
	snprintf(info->type, sizeof(info->type), "%s", vmm_accel_domain_type(accel));
	return vmm_domxml_set(*dx, info->name, info->type);
}

/*
 * While wave-switch is up ('wavectl net up'), the VM's bridge interface
 * becomes a vhost-user port of the switch: the port is made first (the
 * switch owns the socket; QEMU connects to it), the XML changed after.
 * Returns 0 (on the switch, or left on the bridge: no switch, no bridge
 * interface, --no-switch) or -errno.
 */
static int onto_switch(struct launch_opts *o, struct vmm_domxml *dx,
		       const struct vmm_domxml_info *info)
{
	char ctl[4096], reply[512];
	uint32_t cap_burst;
	uint64_t cap;
	int ret;

	if (o->no_switch)
		return 0;
	swc_path(ctl, sizeof(ctl), NULL);
	ret = swc_request(ctl, "stats", reply, sizeof(reply));
	if (ret && ret != -EMSGSIZE) { /* a long reply is an answer too */
		if (ret != -ENOENT)
			wave_warn("launch: wave-switch does not answer on %s (%s): %s stays on the "
				  "bridge", ctl, strerror(-ret), info->name);
		return 0;
	}
	if (strlen(info->name) >= 48) { /* the switch's port names (SW_NAME_MAX) */
		wave_warn("launch: %s: a name of 48 characters or more cannot be a wave-switch port: "
			  "left on the bridge", info->name);
		return 0;
	}
	swc_vhost_path(info->name, o->vhost, sizeof(o->vhost));
	ret = vmm_domxml_vhostuser(dx, o->vhost, !strcmp(info->type, "qemu"));
	if (ret == -ENOENT) {
		wave_warn("launch: %s has no bridge interface: not connected to wave-switch",
			  info->name);
		o->vhost[0] = 0;
		return 0;
	}
	cap = vmm_meta_net_cap(&info->meta, &cap_burst);
	if (!ret && (ret = swc_add_vm(ctl, info->name, o->vhost, info->meta.cls == WAVE_CLASS_LATENCY,
				      cap, cap_burst, reply, sizeof(reply))))
		wave_err("launch: wave-switch refused %s: %s", info->name,
			 ret == -EPROTO ? reply : strerror(-ret));
	if (ret)
		o->vhost[0] = 0;
	return ret;
}

static void off_switch(struct launch_opts *o, const char *name)
{
	char ctl[4096];

	if (!o->vhost[0])
		return;
	swc_path(ctl, sizeof(ctl), NULL);
	swc_del_vm(ctl, name);
}

static int define_and_start(virConnectPtr v, struct vmm_domxml *dx,
			    const struct vmm_domxml_info *info)
{
	char *xml = vmm_domxml_dump(dx), dir[4096];
	virDomainPtr dom;

	if (!xml)
		return -ENOMEM;
	snprintf(dir, sizeof(dir), "%s/console", site_rundir());
	mkdir(site_rundir(), 0755);
	mkdir(dir, 0755);
	dom = virDomainDefineXMLFlags(v, xml, VIR_DOMAIN_DEFINE_VALIDATE);
	free(xml);
	if (!dom) {
		wave_err("launch: libvirt refused the domain: %s", virGetLastErrorMessage());
		return -EINVAL;
	}
	if (virDomainCreate(dom)) {
		wave_err("launch: starting %s failed: %s", info->name, virGetLastErrorMessage());
		virDomainUndefine(dom);
		virDomainFree(dom);
		return -EIO;
	}
	virDomainFree(dom);
	return 0;
}

static void print_launched(struct vmm_conn *c, const struct vmm_domxml_info *info)
{
	struct vmm_domain d;
	char why[512];

	if (vmm_domain_lookup(c, info->name, &d, why, sizeof(why))) {
		wave_warn("launch: %s started, but: %s", info->name, why);
		return;
	}
	printf("%s: started (%s, %s), class %s, weight %u, QEMU pid %d\n", d.name, info->type,
	       d.accel[0] ? d.accel : "?", vmm_class_name(d.meta.cls), d.meta.weight, (int)d.pid);
	for (unsigned int i = 0; i < d.nr_vcpus; i++)
		printf("  vCPU %u: thread %d\n", d.vcpus[i].index, (int)d.vcpus[i].tid);
	if (d.ip[0])
		printf("  address %s\n", d.ip);
	if (d.console[0])
		printf("  console %s\n", d.console);
	if (lo.vhost[0])
		printf("  network: wave-switch, vhost-user %s\n", lo.vhost);
	if (d.notes[0])
		printf("  note: %s\n", d.notes);
	vmm_domain_clear(&d);
}

static int launch_run(int argc, char **argv)
{
	struct launch_opts *o = &lo;
	struct vmm_domxml_info info;
	struct vmm_domxml *dx = NULL;
	struct vmm_conn *c = NULL;
	virDomainPtr existing;
	char why[512], *text;
	int ret = parse(argc, argv, o);

	if (ret)
		return ret > 0 ? 0 : 2;
	if (!(text = read_file(o->file)))
		return 1;
	ret = vmm_conn_open(site_uri(o->uri), 0, &c, why, sizeof(why));
	if (ret) {
		wave_err("launch: %s", why);
		free(text);
		return 1;
	}
	ret = prepare(o, vmm_conn_virt(c), text, &dx, &info);
	free(text);
	if (!ret && (existing = virDomainLookupByName(vmm_conn_virt(c), info.name))) {
		virDomainFree(existing);
		wave_err("launch: a domain named '%s' exists already ('wavectl stop %s' removes it, "
			 "or use --name)", info.name, info.name);
		ret = -EEXIST;
	}
	if (!ret)
		ret = onto_switch(o, dx, &info);
	if (!ret && (ret = define_and_start(vmm_conn_virt(c), dx, &info)))
		off_switch(o, info.name);
	if (!ret)
		print_launched(c, &info);
	vmm_domxml_free(dx);
	vmm_conn_close(c);
	return ret ? 1 : 0;
}

const struct wavectl_cmd wavectl_launch_cmd = {
	.name = "launch",
	.summary = "start a VM from libvirt domain XML",
	.run = launch_run,
};
