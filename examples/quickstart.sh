#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The README's quick start, line for line (tests/test-quickstart.sh checks
# that the two agree and runs this in the test VM). As root, with
# xfrm-steer on PATH (make install); on a kernel without xfrm interfaces:
#   scripts/vmtest.sh -- examples/quickstart.sh
set -ex

# Two network namespaces on this machine: a gateway and a branch office,
# joined by a veth pair (the underlay); the branch has a LAN.
ip netns add gw
ip netns add branch
ip link add wan netns gw type veth peer name wan netns branch
ip -n gw addr add 198.51.100.1/24 dev wan
ip -n gw link set wan up
ip -n branch addr add 198.51.100.2/24 dev wan
ip -n branch link set wan up
ip -n branch link add lan type dummy
ip -n branch addr add 192.168.1.1/24 dev lan
ip -n branch link set lan up

# The gateway: one external xfrm interface with the steering programs, an
# inner address, and a tunnel (SA pair, policies, route of its prefix).
xfrm-steer -n gw link add ipsec0
xfrm-steer -n gw attach dev ipsec0
ip -n gw addr add 10.255.0.1/32 dev ipsec0
ip -n gw route add 192.168.0.0/16 dev ipsec0 src 10.255.0.1
xfrm-steer -n gw tunnel add branch1 if_id 101 local 198.51.100.1 remote 198.51.100.2 \
	spi-in 0x2001 spi-out 0x1001 aead aes-gcm 0x0123456789abcdef0123456789abcdef01234567 128 \
	prefix 192.168.1.0/24 dev ipsec0

# The branch: the same tunnel with plain ip xfrm (an IKE daemon's job).
ip -n branch xfrm state add src 198.51.100.1 dst 198.51.100.2 proto esp spi 0x1001 mode tunnel \
	aead 'rfc4106(gcm(aes))' 0x0123456789abcdef0123456789abcdef01234567 128
ip -n branch xfrm state add src 198.51.100.2 dst 198.51.100.1 proto esp spi 0x2001 mode tunnel \
	aead 'rfc4106(gcm(aes))' 0x0123456789abcdef0123456789abcdef01234567 128
ip -n branch xfrm policy add dir out src 192.168.1.0/24 dst 10.255.0.0/16 \
	tmpl src 198.51.100.2 dst 198.51.100.1 proto esp mode tunnel
ip -n branch xfrm policy add dir in src 10.255.0.0/16 dst 192.168.1.0/24 \
	tmpl src 198.51.100.1 dst 198.51.100.2 proto esp mode tunnel
ip -n branch route add 10.255.0.0/16 dev wan src 192.168.1.1

# Traffic: steered to if_id 101, encrypted, answered; counted on both ends.
ip netns exec gw ping -c 3 192.168.1.1
xfrm-steer -n gw stats
xfrm-steer -n gw tunnel show branch1
ip -n branch -s xfrm state

# Clean up.
xfrm-steer -n gw detach dev ipsec0
ip netns del gw
ip netns del branch
