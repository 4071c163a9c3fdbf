xua-arch-objs := uaccess.o copy.o
