BoutputJ(°ûO>D7S>xžA>npU>(¾E>ÀO>
˜S>ÜB>³U>O}E>