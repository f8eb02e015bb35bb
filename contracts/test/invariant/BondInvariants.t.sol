// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CovenantChecks} from "./CovenantChecks.sol";

/// @notice "A bond cannot run": the same system and checks, driven only by bond, batch,
///         policy, slashing and time actions, so withdrawal-timing sequences (long window,
///         shorter window, withdraw) come up more often than in the full campaign.
contract BondInvariants is CovenantChecks {
    function setUp() public {
        bytes4[] memory s = new bytes4[](11);
        s[0] = h.depositEth.selector;
        s[1] = h.depositToken.selector;
        s[2] = h.requestWithdraw.selector;
        s[3] = h.withdraw.selector;
        s[4] = h.claim.selector;
        s[5] = h.commitBatch.selector;
        s[6] = h.proveBreach.selector;
        s[7] = h.openDispute.selector;
        s[8] = h.resolveExpired.selector;
        s[9] = h.updatePolicy.selector;
        s[10] = h.warp.selector;
        _deploy(s);
    }

    function invariant_bondsCannotRun() public view {
        _checkAll();
    }
}
