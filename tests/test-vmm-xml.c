// SPDX-License-Identifier: BSD-3-Clause
/*
 * Domain XML handling: Wave metadata, placeholders, launch-time checks
 * (each error names its line and element) and the live XML of a running
 * domain. The shipped examples in images/xml/ are checked too.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/domxml.h"
#include "vmm/meta.h"

static char why[512];

static void meta_valid_and_defaults(void **state)
{
	struct vmm_meta m;

	assert_int_equal(vmm_meta_parse("<wave:vm xmlns:wave='urn:wave-vm:domain:1' "
					"class='latency' weight='250'/>", &m, why, sizeof(why)), 0);
	assert_int_equal(m.cls, WAVE_CLASS_LATENCY);
	assert_int_equal(m.weight, 250);
	assert_true(m.present);
	/* As libvirt's metadata API returns it: no namespace, defaults for the rest. */
	assert_int_equal(vmm_meta_parse("<vm class=\"batch\"/>", &m, why, sizeof(why)), 0);
	assert_int_equal(m.cls, WAVE_CLASS_BATCH);
	assert_int_equal(m.weight, VMM_WEIGHT_DEFAULT);
	assert_true(m.managed);
	assert_int_equal(vmm_meta_parse("<vm class='latency' managed='no'/>", &m, why, sizeof(why)),
			 0);
	assert_false(m.managed);
	assert_int_equal(m.cls, WAVE_CLASS_LATENCY);
	assert_int_equal(m.mem_min_mib, 0);
	assert_int_equal(m.mem_weight, VMM_WEIGHT_DEFAULT);
	assert_int_equal(vmm_meta_parse("<vm mem-min='128' mem-weight='300'/>", &m, why,
					sizeof(why)), 0);
	assert_int_equal(m.mem_min_mib, 128);
	assert_int_equal(m.mem_weight, 300);
}

/* net-rate (Mbit/s) and net-burst (KiB): the switch's ceiling in bytes, 4 ms of burst by default. */
static void meta_net_ceiling(void **state)
{
	struct vmm_meta m;
	uint32_t burst = 7;

	assert_int_equal(vmm_meta_parse("<vm/>", &m, why, sizeof(why)), 0);
	assert_int_equal(vmm_meta_net_cap(&m, &burst), 0);
	assert_int_equal(burst, 0);
	assert_int_equal(vmm_meta_parse("<vm net-rate='100'/>", &m, why, sizeof(why)), 0);
	assert_int_equal(vmm_meta_net_cap(&m, &burst), 12500000);
	assert_int_equal(burst, 50000);
	assert_int_equal(vmm_meta_parse("<vm net-rate='1' net-burst='64'/>", &m, why, sizeof(why)), 0);
	assert_int_equal(vmm_meta_net_cap(&m, &burst), 125000);
	assert_int_equal(burst, 65536);
	/* A slow rate still passes two full frames at once. */
	assert_int_equal(vmm_meta_parse("<vm net-rate='1'/>", &m, why, sizeof(why)), 0);
	vmm_meta_net_cap(&m, &burst);
	assert_int_equal(burst, 2 * 1514);
	assert_int_equal(vmm_meta_parse("<vm net-rate='0'/>", &m, why, sizeof(why)), 0); /* none */
	assert_int_equal(vmm_meta_net_cap(&m, &burst), 0);
	assert_int_equal(vmm_meta_parse("<vm net-rate='-1'/>", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "net-rate='-1'"));
	assert_int_equal(vmm_meta_parse("<vm net-rate='100001'/>", &m, why, sizeof(why)), -EINVAL);
	assert_int_equal(vmm_meta_parse("<vm net-rate='10' net-burst='1'/>", &m, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "net-burst='1'"));
	assert_int_equal(vmm_meta_parse("<vm net-burst='64'/>", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "needs a net-rate"));
}

static void meta_errors_name_the_attribute(void **state)
{
	struct vmm_meta m;

	assert_int_equal(vmm_meta_parse("<vm class='realtime'/>", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "class='realtime'"));
	assert_int_equal(m.cls, WAVE_CLASS_BATCH); /* left at defaults */
	assert_int_equal(vmm_meta_parse("<vm weight='0'/>", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "weight='0'"));
	assert_int_equal(vmm_meta_parse("<vm weight='10001'/>", &m, why, sizeof(why)), -EINVAL);
	assert_int_equal(vmm_meta_parse("<vm weight='-5'/>", &m, why, sizeof(why)), -EINVAL);
	assert_int_equal(vmm_meta_parse("<vm weight='12abc'/>", &m, why, sizeof(why)), -EINVAL);
	assert_int_equal(vmm_meta_parse("<vm mem-weight='0'/>", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "mem-weight='0'"));
	assert_int_equal(vmm_meta_parse("<vm mem-min='4194304'/>", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "mem-min='4194304'"));
	assert_int_equal(vmm_meta_parse("<vm mem-min='1G'/>", &m, why, sizeof(why)), -EINVAL);
	assert_int_equal(vmm_meta_parse("<vm managed='maybe'/>", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "managed='maybe'"));
	assert_int_equal(vmm_meta_parse("<vm clas='latency'/>", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "unknown attribute"));
	assert_int_equal(vmm_meta_parse("<vm><limit/></vm>", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "<limit>"));
	assert_int_equal(vmm_meta_parse("<other/>", &m, why, sizeof(why)), -EINVAL);
	assert_int_equal(vmm_meta_parse("<x:vm xmlns:x='urn:other'/>", &m, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(vmm_meta_parse("<vm class='batch'", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not XML"));
	assert_int_equal(vmm_meta_parse("", &m, why, sizeof(why)), -EINVAL);
}

static const struct vmm_fill fill_all = {
	.name = "vm1", .accel = "qemu", .images = "/img", .ip = "10.77.0.20",
	.host_ip = "10.77.0.1", .bridge = "wavebr0", .console = "/run/c/vm1.log",
};

static void fill_replaces_and_escapes(void **state)
{
	struct vmm_fill f = fill_all;
	char *out = NULL;

	assert_int_equal(vmm_xml_fill("<a n='@WAVE_NAME@'>@WAVE_IMAGES@/k @WAVE_IP@</a>", &f,
				      &out, why, sizeof(why)), 0);
	assert_string_equal(out, "<a n='vm1'>/img/k 10.77.0.20</a>");
	free(out);
	f.images = "/a&b<c>'\"";
	assert_int_equal(vmm_xml_fill("<k>@WAVE_IMAGES@</k>", &f, &out, why, sizeof(why)), 0);
	assert_string_equal(out, "<k>/a&amp;b&lt;c&gt;&apos;&quot;</k>");
	free(out);
	assert_int_equal(vmm_xml_fill("no placeholders", &f, &out, why, sizeof(why)), 0);
	assert_string_equal(out, "no placeholders");
	free(out);
}

static void fill_errors_name_line_and_placeholder(void **state)
{
	struct vmm_fill f = fill_all;
	char *out = NULL;

	assert_int_equal(vmm_xml_fill("<a>\n<b>@WAVE_COLOUR@</b>", &f, &out, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "line 2"));
	assert_non_null(strstr(why, "@WAVE_COLOUR@"));
	assert_null(out);
	f.ip = NULL;
	assert_int_equal(vmm_xml_fill("<a>\n\n@WAVE_IP@</a>", &f, &out, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "line 3"));
	assert_non_null(strstr(why, "@WAVE_IP@ has no value"));
	assert_int_equal(vmm_xml_fill("@WAVE_", &f, &out, why, sizeof(why)), -EINVAL);
	assert_true(vmm_xml_uses("x @WAVE_IP@ y", "@WAVE_IP@"));
	assert_false(vmm_xml_uses("x @WAVE_NAME@ y", "@WAVE_IP@"));
}

/* A temporary image directory with dummy kernel and initrd files. */
static char imgdir[64];

static int img_setup(void **state)
{
	char p[128];
	FILE *f;

	snprintf(imgdir, sizeof(imgdir), "/tmp/wave-test-img-XXXXXX");
	assert_non_null(mkdtemp(imgdir));
	snprintf(p, sizeof(p), "%s/vmlinuz", imgdir);
	f = fopen(p, "w");
	fclose(f);
	snprintf(p, sizeof(p), "%s/initramfs.img", imgdir);
	f = fopen(p, "w");
	fclose(f);
	return 0;
}

static int img_teardown(void **state)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/vmlinuz", imgdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/initramfs.img", imgdir);
	unlink(p);
	rmdir(imgdir);
	return 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);

	assert_non_null(f);
	assert_true(fread(buf, 1, (1 << 16) - 1, f) > 0);
	fclose(f);
	return buf;
}

/* The shipped examples fill in, pass every check and carry the right metadata. */
static void examples_are_valid(void **state)
{
	static const struct { const char *file; enum wave_vm_class cls; const char *ip; } ex[] = {
		{ "images/xml/latency-echo.xml", WAVE_CLASS_LATENCY, "10.77.0.20" },
		{ "images/xml/batch-spin.xml", WAVE_CLASS_BATCH, "10.77.0.20" },
	};

	for (size_t i = 0; i < 2; i++) {
		struct vmm_fill f = fill_all;
		struct vmm_domxml_info info;
		struct vmm_domxml *d = NULL;
		char *text = slurp(ex[i].file), *out = NULL, *dump;

		f.images = imgdir;
		assert_int_equal(vmm_xml_fill(text, &f, &out, why, sizeof(why)), 0);
		assert_int_equal(vmm_domxml_parse(out, &d, &info, why, sizeof(why)), 0);
		assert_string_equal(info.name, "vm1");
		assert_string_equal(info.type, "qemu");
		assert_int_equal(info.meta.cls, ex[i].cls);
		assert_true(info.meta.present);
		assert_string_equal(info.ip, ex[i].ip);
		assert_true(info.vcpus >= 1);
		assert_int_equal(vmm_domxml_set(d, "renamed", "kvm"), 0);
		dump = vmm_domxml_dump(d);
		assert_non_null(strstr(dump, "<name>renamed</name>"));
		assert_non_null(strstr(dump, "type=\"kvm\""));
		free(dump);
		vmm_domxml_free(d);
		free(out);
		free(text);
	}
}

static struct vmm_domxml *parse_example(const char *file)
{
	struct vmm_fill f = fill_all;
	struct vmm_domxml_info info;
	struct vmm_domxml *d = NULL;
	char *text = slurp(file), *out = NULL;

	f.images = imgdir;
	assert_int_equal(vmm_xml_fill(text, &f, &out, why, sizeof(why)), 0);
	assert_int_equal(vmm_domxml_parse(out, &d, &info, why, sizeof(why)), 0);
	free(out);
	free(text);
	return d;
}

/*
 * On wave-switch: the bridge interface becomes a vhost-user client of
 * the socket, guest memory a shared memfd; MSI-X off only under TCG.
 */
static void bridge_interface_moves_onto_the_switch(void **state)
{
	for (int tcg = 0; tcg < 2; tcg++) {
		struct vmm_domxml *d = parse_example("images/xml/mem.xml");
		char *dump;

		assert_int_equal(vmm_domxml_vhostuser(d, "/run/wave-vm/vhost/vm1.sock", tcg), 0);
		dump = vmm_domxml_dump(d);
		assert_non_null(strstr(dump, "<interface type=\"vhostuser\">"));
		assert_non_null(strstr(dump, "path=\"/run/wave-vm/vhost/vm1.sock\" mode=\"client\""));
		assert_null(strstr(dump, "bridge=")); /* the old source is gone */
		assert_non_null(strstr(dump, "<source type=\"memfd\"/>"));
		assert_non_null(strstr(dump, "<access mode=\"shared\"/>"));
		assert_true(!strstr(dump, "name=\"vectors\" type=\"unsigned\" value=\"0\"") == !tcg);
		assert_non_null(strstr(dump, "freePageReporting")); /* the rest is kept */
		free(dump);
		/* Only one bridge interface was there: a second call finds none. */
		assert_null(strstr(dump, "<driver")); /* the tap's options went with it */
		assert_int_equal(vmm_domxml_vhostuser(d, "/x.sock", tcg), -ENOENT);
		vmm_domxml_free(d);
	}
}

/* A domain with a <qemu:override> of its own and tap options: one override, no queues left. */
static void users_override_is_joined(void **state)
{
	static const char *xml =
		"<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
		"<name>vm1</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
		"<os><type>hvm</type></os><devices><interface type='bridge'>"
		"<source bridge='br0'/><driver queues='4'/></interface></devices>"
		"<qemu:override><qemu:device alias='x'><qemu:frontend>"
		"<qemu:property name='p' type='string' value='v'/></qemu:frontend></qemu:device>"
		"</qemu:override></domain>";
	struct vmm_domxml_info info;
	struct vmm_domxml *d = NULL;
	char *dump;
	const char *first;

	assert_int_equal(vmm_domxml_parse(xml, &d, &info, why, sizeof(why)), 0);
	assert_int_equal(vmm_domxml_vhostuser(d, "/run/s.sock", 1), 0);
	dump = vmm_domxml_dump(d);
	assert_non_null(first = strstr(dump, "<qemu:override>"));
	assert_null(strstr(first + 1, "<qemu:override>"));
	assert_non_null(strstr(dump, "alias=\"x\""));
	assert_non_null(strstr(dump, "name=\"vectors\""));
	assert_null(strstr(dump, "queues"));
	free(dump);
	vmm_domxml_free(d);
}

static int parse_fails(const char *xml, const char *needle)
{
	struct vmm_domxml_info info;
	struct vmm_domxml *d = NULL;
	int ret = vmm_domxml_parse(xml, &d, &info, why, sizeof(why));

	assert_null(d);
	if (!strstr(why, needle))
		fail_msg("reason '%s' lacks '%s'", why, needle);
	return ret;
}

static void bad_domains_are_refused_with_line(void **state)
{
	char xml[1024];

	assert_int_equal(parse_fails("<domain type='qemu'>\n<name>x</name>\n<vcpu>1</vcpu\n</domain>",
				     "line 4"), -EINVAL);
	parse_fails("<vm/>", "not <domain>");
	parse_fails("<domain type='xen'><name>x</name><vcpu>1</vcpu><os/></domain>",
		    "type='xen'");
	parse_fails("<domain type='qemu'>\n<vcpu>1</vcpu><os/></domain>", "no <name>");
	parse_fails("<domain type='qemu'><name>a b</name><vcpu>1</vcpu><os/></domain>",
		    "<name>a b</name>");
	parse_fails("<domain type='qemu'><name>x</name>\n<vcpu>0</vcpu><os/></domain>",
		    "line 2: <vcpu>0</vcpu>");
	parse_fails("<domain type='qemu'><name>x</name><vcpu>two</vcpu><os/></domain>", "<vcpu>two");
	parse_fails("<domain type='qemu'><name>x</name><vcpu>1</vcpu></domain>", "no <os>");
	parse_fails("<domain type='qemu'><name>x</name><vcpu>1</vcpu>\n<os>\n"
		    "<kernel>/nonexistent/vmlinuz</kernel></os></domain>",
		    "line 3: <kernel>/nonexistent/vmlinuz</kernel>");
	parse_fails("<domain type='qemu'><name>x</name><vcpu>1</vcpu><os/><metadata>\n"
		    "<w:vm xmlns:w='urn:wave-vm:domain:1' class='fast'/></metadata></domain>",
		    "line 2: <wave:vm class='fast'>");
	parse_fails("<domain type='@WAVE_ACCEL@'><name>x</name></domain>", "@WAVE_ACCEL@");
	/* A floor needs a virtio balloon and must fit in <memory>. */
	parse_fails("<domain type='qemu'><name>x</name><vcpu>1</vcpu><memory unit='MiB'>256</memory>"
		    "<os/><metadata><w:vm xmlns:w='urn:wave-vm:domain:1' mem-min='128'/></metadata>"
		    "<devices><memballoon model='none'/></devices></domain>", "no <memballoon");
	parse_fails("<domain type='qemu'><name>x</name><vcpu>1</vcpu><memory unit='MiB'>256</memory>"
		    "<os/><metadata><w:vm xmlns:w='urn:wave-vm:domain:1' mem-min='300'/></metadata>"
		    "<devices><memballoon model='virtio'/></devices></domain>", "(256 MiB)");
	parse_fails("<domain type='qemu'><name>x</name><vcpu>1</vcpu><memory>262144</memory>"
		    "<os/><metadata><w:vm xmlns:w='urn:wave-vm:domain:1' mem-min='257'/></metadata>"
		    "<devices><memballoon model='virtio'/></devices></domain>", "mem-min='257'");
	{
		struct vmm_domxml_info info;
		struct vmm_domxml *d = NULL;

		assert_int_equal(vmm_domxml_parse("<domain type='qemu'><name>x</name><vcpu>1</vcpu>"
						  "<memory unit='GiB'>1</memory><os/><metadata><w:vm "
						  "xmlns:w='urn:wave-vm:domain:1' mem-min='1024'/>"
						  "</metadata><devices><memballoon model='virtio'/>"
						  "</devices></domain>", &d, &info, why, sizeof(why)), 0);
		assert_int_equal(info.meta.mem_min_mib, 1024);
		vmm_domxml_free(d);
	}
	/* Without Wave metadata the domain is valid, with defaults. */
	snprintf(xml, sizeof(xml), "<domain type='qemu'><name>x</name><vcpu>2</vcpu><os>"
		 "<kernel>%s/vmlinuz</kernel><initrd>%s/initramfs.img</initrd></os></domain>",
		 imgdir, imgdir);
	{
		struct vmm_domxml_info info;
		struct vmm_domxml *d = NULL;

		assert_int_equal(vmm_domxml_parse(xml, &d, &info, why, sizeof(why)), 0);
		assert_false(info.meta.present);
		assert_int_equal(info.meta.cls, WAVE_CLASS_BATCH);
		assert_int_equal(info.vcpus, 2);
		vmm_domxml_free(d);
	}
}

static void live_xml_gives_taps_console_ip(void **state)
{
	struct vmm_domxml_live live;
	const char *xml =
		"<domain type='qemu' id='3'><name>v</name><os><type>hvm</type>"
		"<cmdline>console=ttyS0 wave.workload=echo wave.ip=10.77.0.11/24 x</cmdline></os>"
		"<devices><interface type='bridge'><target dev='vnet4'/></interface>"
		"<interface type='bridge'><target dev='vnet5'/></interface>"
		"<serial type='pty'><source path='/dev/pts/3'/></serial>"
		"<serial type='file'><source path='/run/c/v.log'/></serial></devices></domain>";

	assert_int_equal(vmm_domxml_live(xml, &live, why, sizeof(why)), 0);
	assert_int_equal(live.nr_taps, 2);
	assert_string_equal(live.taps[0], "vnet4");
	assert_string_equal(live.taps[1], "vnet5");
	assert_string_equal(live.console, "/run/c/v.log");
	assert_string_equal(live.ip, "10.77.0.11");
	assert_int_equal(vmm_domxml_live("<domain><name>", &live, why, sizeof(why)), -EINVAL);
	assert_int_equal(vmm_domxml_live("<network/>", &live, why, sizeof(why)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(meta_valid_and_defaults),
		cmocka_unit_test(meta_errors_name_the_attribute),
		cmocka_unit_test(meta_net_ceiling),
		cmocka_unit_test(fill_replaces_and_escapes),
		cmocka_unit_test(fill_errors_name_line_and_placeholder),
		cmocka_unit_test_setup_teardown(examples_are_valid, img_setup, img_teardown),
		cmocka_unit_test_setup_teardown(bad_domains_are_refused_with_line, img_setup,
						img_teardown),
		cmocka_unit_test(live_xml_gives_taps_console_ip),
		cmocka_unit_test_setup_teardown(bridge_interface_moves_onto_the_switch, img_setup,
						img_teardown),
		cmocka_unit_test(users_override_is_joined),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
