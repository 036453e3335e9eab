# Turn a text file into a C string constant: rmq_default_conf.
file(READ ${IN} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUT} "/* generated from etc/rmq.conf; do not edit */\n"
     "const char rmq_default_conf[] = {${bytes} 0x00};\n")
