option(PW_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(PW_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer -g -O1)
    add_link_options(-fsanitize=address,undefined)
endif()
