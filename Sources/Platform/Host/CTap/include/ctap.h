/*
 * Tap interfaces for host processes: the hvt monitor (swiftlet-hvt) and the
 * hosted platform. C because TUNSETIFF/SIOCGIFMTU take a struct ifreq through
 * variadic ioctl(2), which Swift cannot call, and because the kernel's own
 * struct virtio_net_hdr (<linux/virtio_net.h>) frames a vnet-header tap's
 * packets. Linux only. Each call returns a value >= 0 or -errno.
 */
#ifndef SWIFTLET_CTAP_H
#define SWIFTLET_CTAP_H

/* Opens the existing tap interface `name` (IFF_TAP | IFF_NO_PI), non-blocking and
 * close-on-exec; -ENODEV when there is no such interface: it is never created.
 * With `vnet_hdr` every frame read or written carries a struct virtio_net_hdr
 * (IFF_VNET_HDR): use tap_receive and tap_transmit. */
int tap_open(const char *name, int vnet_hdr);
/* Makes an inherited tap descriptor non-blocking after checking it is one;
 * *vnet_hdr tells whether its frames carry a virtio_net_hdr. */
int tap_adopt(int fd, int *vnet_hdr);
/* The MTU of the tap interface behind `fd`. */
int tap_mtu(int fd);
/* For a vnet_hdr tap: lets the kernel hand us merged TCP segments (TSO4) with
 * partial checksums (CSUM), or stops it (on = 0). */
int tap_set_offloads(int fd, int on);
/* Reads one frame of a vnet_hdr tap into buf: its length (-EAGAIN when none
 * waits); *trusted = 1 when the kernel checked the TCP/UDP checksum or left
 * only the pseudo-header's sum in it (NEEDS_CSUM, DATA_VALID). */
long tap_receive(int fd, void *buf, unsigned long len, int *trusted);
/* Writes one frame to a vnet_hdr tap; with segment_size > 0 the frame is one
 * IPv4 TCP segment whose checksum field holds the pseudo-header sum, its TCP
 * header at tcp_start and its headers ending at headers_end, and the kernel
 * cuts it into segments of segment_size data bytes (GSO_TCPV4). */
long tap_transmit(int fd, const void *frame, unsigned long len, unsigned segment_size, unsigned tcp_start,
                  unsigned headers_end);

#endif
