module gomap/tools/goref

go 1.19
