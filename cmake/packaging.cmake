# The Debian package (cpack -G DEB): the server, its systemd unit, the flag
# file /etc/banditd/banditd.flags (a conffile) and maintainer scripts that
# make the banditd system user and /var/lib/banditd. Built and checked by
# scripts/test_deb.sh.
include(GNUInstallDirs)
set(deb_dir ${CMAKE_SOURCE_DIR}/packaging/deb)
install(TARGETS banditd RUNTIME DESTINATION bin COMPONENT server)
install(FILES ${deb_dir}/banditd.service
        DESTINATION lib/systemd/system COMPONENT server)
install(FILES ${deb_dir}/banditd.flags
        DESTINATION /etc/banditd COMPONENT server)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/openapi.json
        DESTINATION share/doc/banditd COMPONENT server)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME banditd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "banditd maintainers <maintainers@banditd.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "real-time multi-armed bandit decision service (gRPC and HTTP/JSON)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${deb_dir}/conffiles ${deb_dir}/postinst ${deb_dir}/prerm
    ${deb_dir}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
