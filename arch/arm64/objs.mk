xua-arch-objs := uaccess.o
