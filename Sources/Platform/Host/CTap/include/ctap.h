/*
 * Tap interfaces for host processes: the hvt monitor (swiftlet-hvt) and the
 * hosted platform. C because TUNSETIFF/SIOCGIFMTU take a struct ifreq through
 * variadic ioctl(2), which Swift cannot call. Linux only. Each call returns a
 * value >= 0 or -errno.
 */
#ifndef SWIFTLET_CTAP_H
#define SWIFTLET_CTAP_H

/* Opens the existing tap interface `name` (IFF_TAP | IFF_NO_PI), non-blocking and
 * close-on-exec; -ENODEV when there is no such interface: it is never created. */
int tap_open(const char *name);
/* Makes an inherited tap descriptor non-blocking after checking it is one. */
int tap_adopt(int fd);
/* The MTU of the tap interface behind `fd`. */
int tap_mtu(int fd);

#endif
