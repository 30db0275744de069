/* Tap helpers shared by the monitor and the hosted platform (see include/ctap.h). */
#define _GNU_SOURCE
#include "ctap.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <net/if.h>

int tap_open(const char *name) {
    /* TUNSETIFF would create a missing interface: refuse instead, as solo5-hvt does. */
    if (if_nametoindex(name) == 0) return -ENODEV;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (strlen(name) >= IFNAMSIZ) { close(fd); return -ENAMETOOLONG; }
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { int e = errno; close(fd); return -e; }
    return fd;
}

int tap_adopt(int fd) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    if (ioctl(fd, TUNGETIFF, &ifr) < 0) return -errno;
    if (!(ifr.ifr_flags & IFF_TAP)) return -EINVAL;
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
