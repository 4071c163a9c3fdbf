xua-arch-objs := prot.o
