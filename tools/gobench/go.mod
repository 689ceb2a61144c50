module gomap/tools/gobench

go 1.19
