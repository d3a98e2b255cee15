# Run by `cmake --install` (install(CODE) in CMakeLists.txt), not at configure
# time: CMAKE_INSTALL_PREFIX is then the prefix given to the install
# (`cmake --install build --prefix /usr`), so the units name the binary and
# the configs where they really go. DESTDIR is honoured by file(INSTALL) and
# added by hand where a file is only looked at.
#
# Set by the caller: PW_SOURCE_DIR, PW_BINARY_DIR, and the GNUInstallDirs
# directories as configured, relative (the usual case) or absolute:
# PW_BINDIR, PW_SYSCONFDIR, PW_DATADIR.

set(prefix "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "(.)/+$" "\\1" prefix "${prefix}")

function(pw_full_dir out dir)
    if(IS_ABSOLUTE "${dir}")
        set(${out} "${dir}" PARENT_SCOPE)
    elseif(prefix STREQUAL "/")
        set(${out} "/${dir}" PARENT_SCOPE)
    else()
        set(${out} "${prefix}/${dir}" PARENT_SCOPE)
    endif()
endfunction()

pw_full_dir(bindir "${PW_BINDIR}")
pw_full_dir(datadir "${PW_DATADIR}")
# GNUInstallDirs' rule for the configuration: /etc for the / and /usr
# prefixes, /etc/opt/... for /opt/..., else under the prefix.
if(IS_ABSOLUTE "${PW_SYSCONFDIR}")
    set(sysconfdir "${PW_SYSCONFDIR}")
elseif(PW_SYSCONFDIR STREQUAL "etc" AND (prefix STREQUAL "/" OR prefix STREQUAL "/usr"))
    set(sysconfdir "/etc")
elseif(PW_SYSCONFDIR STREQUAL "etc" AND prefix MATCHES "^/opt/")
    set(sysconfdir "/etc${prefix}")
else()
    pw_full_dir(sysconfdir "${PW_SYSCONFDIR}")
endif()

# The units, for this prefix.
set(PW_BINDIR "${bindir}")
set(PW_SYSCONFDIR "${sysconfdir}")
file(READ "${PW_SOURCE_DIR}/dist/systemd/hardening.conf" PW_HARDENING)
set(units)
foreach(unit planwatch-aggregator.service planwatch-publisher.service
        planwatch-collector@.service planwatch-web.service)
    configure_file("${PW_SOURCE_DIR}/dist/systemd/${unit}.in"
                   "${PW_BINARY_DIR}/systemd-install/${unit}" @ONLY)
    list(APPEND units "${PW_BINARY_DIR}/systemd-install/${unit}")
endforeach()
file(INSTALL DESTINATION "${prefix}/lib/systemd/system" TYPE FILE FILES ${units})

# The configs are conffiles: the administrator's edits survive a reinstall.
# The pristine examples go to share/planwatch/etc, always; a config is
# written only when it is absent or still the previous example unedited.
# An edited one is kept, and when the example itself changed the new one
# goes beside it as NAME.new, as dpkg does (.dpkg-dist).
set(examples "${datadir}/planwatch/etc")
foreach(name aggregator.conf publisher.conf collector.conf web.conf web.routes)
    set(src "${PW_SOURCE_DIR}/dist/etc/planwatch/${name}")
    set(conf "$ENV{DESTDIR}${sysconfdir}/planwatch/${name}")
    set(old "$ENV{DESTDIR}${examples}/${name}")
    file(READ "${src}" new_text)
    set(action install)
    if(EXISTS "${conf}")
        file(READ "${conf}" conf_text)
        set(old_text "")
        if(EXISTS "${old}")
            file(READ "${old}" old_text)
        endif()
        if(conf_text STREQUAL new_text)
            set(action keep)
        elseif(NOT conf_text STREQUAL old_text)
            set(action edited)
        endif()
        if(action STREQUAL "edited" AND EXISTS "${old}" AND old_text STREQUAL new_text)
            set(action keep) # edited, and the example is what it was
        endif()
    endif()
    if(action STREQUAL "install")
        file(INSTALL DESTINATION "${sysconfdir}/planwatch" TYPE FILE FILES "${src}")
    elseif(action STREQUAL "edited")
        file(INSTALL DESTINATION "${sysconfdir}/planwatch" TYPE FILE FILES "${src}"
             RENAME "${name}.new")
        message(STATUS "Kept: ${conf} (edited); the new example is ${conf}.new")
    else()
        message(STATUS "Kept: ${conf}")
    endif()
    file(INSTALL DESTINATION "${examples}" TYPE FILE FILES "${src}")
endforeach()
