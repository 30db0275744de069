/* Tap helpers shared by the monitor and the hosted platform (see include/ctap.h). */
#define _GNU_SOURCE
#include "ctap.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>

int tap_open(const char *name, int vnet_hdr) {
    /* TUNSETIFF would create a missing interface: refuse instead, as solo5-hvt does. */
    if (if_nametoindex(name) == 0) return -ENODEV;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
    if (strlen(name) >= IFNAMSIZ) { close(fd); return -ENAMETOOLONG; }
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { int e = errno; close(fd); return -e; }
    int size = sizeof(struct virtio_net_hdr);
    if (vnet_hdr && ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) { int e = errno; close(fd); return -e; }
    return fd;
}

int tap_adopt(int fd, int *vnet_hdr) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    if (ioctl(fd, TUNGETIFF, &ifr) < 0) return -errno;
    if (!(ifr.ifr_flags & IFF_TAP)) return -EINVAL;
    *vnet_hdr = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
    int size = 0;
    /* A header size other than the struct's would misplace every frame. */
    if (*vnet_hdr && (ioctl(fd, TUNGETVNETHDRSZ, &size) < 0 || size != sizeof(struct virtio_net_hdr))) return -EINVAL;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -errno;
    return fd;
}

int tap_mtu(int fd) {
    /* The interface name comes from the tap itself; SIOCGIFMTU needs any socket. */
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    if (ioctl(fd, TUNGETIFF, &ifr) < 0) return -errno;
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return -errno;
    int rc = ioctl(sock, SIOCGIFMTU, &ifr);
    int e = errno;
    close(sock);
    return rc < 0 ? -e : ifr.ifr_mtu;
}

int tap_set_offloads(int fd, int on) {
    return ioctl(fd, TUNSETOFFLOAD, on ? TUN_F_CSUM | TUN_F_TSO4 : 0) < 0 ? -errno : 0;
}

long tap_receive(int fd, void *buf, unsigned long len, int *trusted) {
    struct virtio_net_hdr header;
    struct iovec parts[2] = {{&header, sizeof(header)}, {buf, len}};
    ssize_t n;
    do { n = readv(fd, parts, 2); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    if ((size_t)n < sizeof(header)) return -EIO;
    *trusted = (header.flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) != 0;
    return n - (ssize_t)sizeof(header);
}

long tap_transmit(int fd, const void *frame, unsigned long len, unsigned segment_size, unsigned tcp_start,
                  unsigned headers_end) {
    struct virtio_net_hdr header;
    memset(&header, 0, sizeof(header));
    if (segment_size > 0) {
        header.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        header.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        header.hdr_len = (unsigned short)headers_end;
        header.gso_size = (unsigned short)segment_size;
        header.csum_start = (unsigned short)tcp_start;
        header.csum_offset = 16;
    }
    struct iovec parts[2] = {{&header, sizeof(header)}, {(void *)frame, len}};
    ssize_t n;
    do { n = writev(fd, parts, 2); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    /* A tap takes a frame whole or not at all. */
    return n == (ssize_t)(sizeof(header) + len) ? (long)len : -EIO;
}
