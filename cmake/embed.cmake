# Turns a text file into a C array, for assets compiled into the binary
# (the flame graph's script):
#   cmake -DIN=file.js -DOUT=file_js.h -DNAME=file_js -P embed.cmake
file(READ "${IN}" text)
# The script goes into a CDATA section, which this sequence would end.
string(FIND "${text}" "]]>" cdata_end)
if(NOT cdata_end EQUAL -1)
	message(FATAL_ERROR "${IN} contains ]]>, which cannot appear in CDATA")
endif()
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
file(WRITE "${OUT}" "/* Generated from ${IN}; do not edit. */\nstatic const char ${NAME}[] = {${hex}0x00};\n")
