// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl keys: key material for a host and its DPU/IPU agent over tcp://
 * (TLS 1.3, channel/tls.h). `certs DIR` makes a CA and a certificate for
 * each side; `psk FILE` makes a pre-shared key. Nothing existing is
 * overwritten, and private keys are written 0600.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "channel/tls.h"
#include "common/log.h"
#include "common/opt.h"
#include "tools/wavectl.h"

static unsigned int days = 825;
static const char *identity = "wave";

static const struct opt keys_opts[] = {
	OPT_UINT("days", "N", &days, 1, 36500, "certs: how long the certificates are valid"),
	OPT_STRING("identity", "NAME", &identity, "psk: the key's identity"),
	OPT_END(),
};

static const struct opt_cmd keys_cmd = {
	.name = "keys",
	.usage = "wavectl keys certs DIR | psk FILE [OPTIONS]",
	.about = "Makes what waved and wave-agent need to authenticate each other over\n"
		 "tcp:// (TLS 1.3):\n"
		 "  certs DIR  a CA and certificates it signs: DIR/ca.pem (both sides),\n"
		 "             DIR/host.{pem,key} for waved (name " TLS_HOST_NAME "), DIR/agent.{pem,key}\n"
		 "             for wave-agent (name " TLS_AGENT_NAME "); keep DIR/ca.key offline\n"
		 "  psk FILE   a 256-bit pre-shared key (IDENTITY:HEX, mode 0600), the same\n"
		 "             file on both sides\n",
	.opts = keys_opts,
	.epilog = "Then, on the host:  waved --channel tcp://0.0.0.0:7400 --tls-cert host.pem \\\n"
		  "                      --tls-key host.key --tls-ca ca.pem\n"
		  "on the DPU:         wave-agent --channel tcp://HOST:7400 --tls-cert agent.pem \\\n"
		  "                      --tls-key agent.key --tls-ca ca.pem\n"
		  "(or --psk-file FILE on both).\n",
	.min_args = 2,
	.max_args = 2,
};

static int keys_run(int argc, char **argv)
{
	char why[512];
	int first, ret = opt_parse(&keys_cmd, argc, argv, &first);
	const char *what, *where;

	if (ret)
		return ret > 0 ? 0 : 2;
	what = argv[first];
	where = argv[first + 1];
	if (!strcmp(what, "certs")) {
		if (mkdir(where, 0700) && errno != EEXIST) {
			wave_err("keys: %s: %s", where, strerror(errno));
			return 1;
		}
		ret = tls_make_certs(where, days, why, sizeof(why));
	} else if (!strcmp(what, "psk")) {
		ret = tls_make_psk(where, identity, why, sizeof(why));
	} else {
		wave_err("keys: '%s' is neither certs nor psk (see --help)", what);
		return 2;
	}
	if (ret) {
		wave_err("keys: %s", why);
		return 1;
	}
	if (!strcmp(what, "certs"))
		printf("%s: ca.pem, host.pem, host.key, agent.pem, agent.key (and ca.key: keep it "
		       "offline), valid %u days\n", where, days);
	else
		printf("%s: pre-shared key '%s' (give the same file to waved and wave-agent)\n",
		       where, identity);
	return 0;
}

const struct wavectl_cmd wavectl_keys_cmd = {
	.name = "keys",
	.summary = "make TLS certificates or a pre-shared key for tcp://",
	.run = keys_run,
};
