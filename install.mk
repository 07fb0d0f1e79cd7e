# SPDX-License-Identifier: GPL-2.0
#
# make install / make uninstall, included by the Makefile.
#
#   make install                      everything under PREFIX (/usr/local)
#   make install PREFIX=/usr          as a distribution package would
#   make install DESTDIR=/tmp/stage   staged: files go to $(DESTDIR)$(PREFIX)/...
#   make uninstall [PREFIX=...] [DESTDIR=...]
#                                     removes exactly the files install writes
#
# What goes where (each directory can be overridden on the command line):
#   $(SBINDIR)/xfrm-steer                     the CLI. The BPF object needs no
#                                             file of its own: the loader
#                                             embeds it through the skeleton.
#   $(MAN8DIR)/xfrm-steer.8
#   $(BASHCOMPDIR)/xfrm-steer                 bash completion
#   $(SYSTEMDUNITDIR)/xfrm-steer@.service     xfrm-steer apply /etc/xfrm-steer/%i.json
#   $(SYSTEMDUNITDIR)/xfrm-steer-exporter.service
#   $(SYSTEMDUNITDIR)/xfrm-steer-daemon.service  xfrm-steer daemon (tunnel health)
#   $(SYSTEMDUNITDIR)/xfrm-steer-libreswan-relay.service  relay of libreswan-updown.sh
#   $(XS_LIBDIR)/strongswan-updown.sh         strongSwan updown script
#   $(XS_LIBDIR)/strongswan-unknown-spi.sh    strongSwan hook of daemon on-unknown-spi
#   $(XS_LIBDIR)/libreswan-updown.sh          libreswan (pluto) updown script
#   $(XS_DOCDIR)/examples/                    swanctl.conf, apply JSON
#   $(XS_DOCDIR)/xfrm-steer.schema.json       JSON Schema of apply files
#
# Unit directory: with PREFIX=/usr the one systemd's pkg-config file names
# (/lib/systemd/system on Debian 12, /usr/lib/systemd/system elsewhere; the
# same place on a merged /usr), otherwise $(PREFIX)/lib/systemd/system, which
# systemd searches for /usr/local and which keeps a staged or private install
# out of the system's own directories. The units read their configuration
# from /etc/xfrm-steer whatever the PREFIX: that is where systemd units look.
#
# The installed units and updown script name the installed binary by its
# full path (PATH is short under systemd and charon); the man page carries
# the version.

PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
MAN8DIR ?= $(MANDIR)/man8
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
XS_LIBDIR ?= $(PREFIX)/lib/xfrm-steer
XS_DOCDIR ?= $(PREFIX)/share/doc/xfrm-steer
ifeq ($(PREFIX),/usr)
SYSTEMDUNITDIR ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/usr/lib/systemd/system)
else
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
endif

INSTALL ?= install
# @SBINDIR@ and @VERSION@ in installed text files become the real values.
XS_SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@XS_LIBDIR@|$(XS_LIBDIR)|g'

XS_EXAMPLES := $(sort $(wildcard examples/*))

# Every file install writes, as uninstall must remove it.
XS_INSTALLED := $(SBINDIR)/xfrm-steer \
	$(MAN8DIR)/xfrm-steer.8 \
	$(BASHCOMPDIR)/xfrm-steer \
	$(SYSTEMDUNITDIR)/xfrm-steer@.service \
	$(SYSTEMDUNITDIR)/xfrm-steer-exporter.service \
	$(SYSTEMDUNITDIR)/xfrm-steer-daemon.service \
	$(SYSTEMDUNITDIR)/xfrm-steer-libreswan-relay.service \
	$(XS_LIBDIR)/strongswan-updown.sh \
	$(XS_LIBDIR)/strongswan-unknown-spi.sh \
	$(XS_LIBDIR)/libreswan-updown.sh \
	$(XS_DOCDIR)/xfrm-steer.schema.json \
	$(patsubst examples/%,$(XS_DOCDIR)/examples/%,$(XS_EXAMPLES))

.PHONY: install uninstall install-files

install: $(BIN)
	$(Q)$(MAKE) --no-print-directory install-files

# Separate from install so that a staged install can be made from a build
# tree without remaking it (make install-files DESTDIR=...).
install-files:
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)test -x $(BIN) || { echo "$(BIN) is missing: run make first" >&2; exit 1; }
	$(Q)$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MAN8DIR) \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(XS_LIBDIR) $(DESTDIR)$(XS_DOCDIR)/examples
	$(Q)$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/xfrm-steer
	$(Q)$(XS_SUBST) man/xfrm-steer.8 > $(DESTDIR)$(MAN8DIR)/xfrm-steer.8
	$(Q)chmod 0644 $(DESTDIR)$(MAN8DIR)/xfrm-steer.8
	$(Q)$(INSTALL) -m 0644 completion/xfrm-steer.bash $(DESTDIR)$(BASHCOMPDIR)/xfrm-steer
	$(Q)for u in xfrm-steer@.service xfrm-steer-exporter.service xfrm-steer-daemon.service \
		xfrm-steer-libreswan-relay.service; do \
		$(XS_SUBST) systemd/$$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done
	$(Q)sed -e 's|^XS_DEFAULT_BIN=.*|XS_DEFAULT_BIN=$(SBINDIR)/xfrm-steer|' \
		scripts/strongswan-updown.sh > $(DESTDIR)$(XS_LIBDIR)/strongswan-updown.sh
	$(Q)chmod 0755 $(DESTDIR)$(XS_LIBDIR)/strongswan-updown.sh
	$(Q)$(INSTALL) -m 0755 scripts/strongswan-unknown-spi.sh $(DESTDIR)$(XS_LIBDIR)/
	$(Q)$(INSTALL) -m 0755 scripts/libreswan-updown.sh $(DESTDIR)$(XS_LIBDIR)/
	$(Q)$(INSTALL) -m 0644 doc/xfrm-steer.schema.json $(DESTDIR)$(XS_DOCDIR)/
	$(Q)$(if $(XS_EXAMPLES),$(INSTALL) -m 0644 $(XS_EXAMPLES) $(DESTDIR)$(XS_DOCDIR)/examples/)

# Files only, then the directories that are ours alone and now empty; shared
# ones (sbin, man8, the unit directory...) stay even when empty.
uninstall:
	$(call msg,UNINST,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(addprefix $(DESTDIR),$(XS_INSTALLED))
	$(Q)rmdir $(DESTDIR)$(XS_DOCDIR)/examples $(DESTDIR)$(XS_DOCDIR) \
		$(DESTDIR)$(XS_LIBDIR) 2>/dev/null || true
