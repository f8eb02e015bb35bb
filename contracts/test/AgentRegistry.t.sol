// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {AgentRegistry} from "../src/AgentRegistry.sol";
import {Policy, Breach, DisputeKind} from "../src/CovenantTypes.sol";

contract AgentRegistryTest is Fixture {
    // ---------------------------------------------------------------- deployment and wiring

    function test_constructor_rejectsUnbondingNotLongerThanDisputePeriod() public {
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.WindowTooLong.selector, uint64(5 days), uint64(5 days)));
        new AgentRegistry(5 days, 5 days, 1);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.WindowTooLong.selector, uint64(5 days), uint64(4 days)));
        new AgentRegistry(5 days, 4 days, 1);
        AgentRegistry r = new AgentRegistry(5 days, 5 days + 1, 1);
        assertEq(r.unbondingDelay(), 5 days + 1);
    }

    function test_setDisputeGame_onlyDeployerOnceNonZero() public {
        AgentRegistry r = new AgentRegistry(DISPUTE_PERIOD, UNBONDING_DELAY, MIN_POLICY_DELAY);
        vm.prank(mallory);
        vm.expectRevert(AgentRegistry.OnlyDeployer.selector);
        r.setDisputeGame(mallory);
        vm.expectRevert(AgentRegistry.ZeroAddress.selector);
        r.setDisputeGame(address(0));
        r.setDisputeGame(address(game));
        assertEq(r.disputeGame(), address(game));
        vm.expectRevert(AgentRegistry.AlreadyWired.selector);
        r.setDisputeGame(mallory);
    }

    // ---------------------------------------------------------------- registration

    function test_register_storesAgentAndVersionOne() public {
        Policy memory p = _defaultPolicy();
        bytes32[] memory d = _digests();
        vm.expectEmit(address(registry));
        emit AgentRegistry.UpdateActivated(2, 1);
        vm.prank(stranger);
        uint256 id = registry.register(operator, agentWallet, keccak256("m"), d, p, MIN_POLICY_DELAY);
        assertEq(id, 2);
        assertEq(registry.agentCount(), 2);
        assertTrue(registry.exists(id));
        assertFalse(registry.exists(3));

        AgentRegistry.Agent memory a = registry.agent(id);
        assertEq(a.owner, stranger);
        assertEq(a.operator, operator);
        assertEq(a.wallet, agentWallet);
        assertTrue(a.account != address(0) && a.account.code.length > 0, "an account is created");
        assertEq(registry.accountOf(id), a.account);
        assertEq(a.registeredAt, block.timestamp);
        assertEq(a.policyDelay, MIN_POLICY_DELAY);
        assertEq(a.activeVersion, 1);
        assertEq(a.pendingVersion, 0);
        assertEq(a.versionCount, 1);
        assertEq(a.openDisputes, 0);

        AgentRegistry.Version memory v = registry.version(id, 1);
        assertEq(v.manifestHash, keccak256("m"));
        assertEq(v.maxValuePerTx, MAX_VALUE);
        assertEq(v.challengeWindow, WINDOW);
        assertEq(v.commitDeadline, COMMIT_DEADLINE);
        assertEq(v.activeFrom, block.timestamp);
        assertEq(v.activeUntil, 0);
        assertEq(v.modelDigests.length, 1);
        assertEq(v.modelDigests[0], d[0]);
        assertEq(v.allowedTargets.length, 2);
        assertEq(v.allowedSelectors.length, 2);

        (Policy memory active, uint32 n) = registry.activePolicy(id);
        assertEq(n, 1);
        assertEq(active.maxValuePerTx, MAX_VALUE);
        assertEq(active.allowedTargets[1], dex);
        assertEq(uint256(uint32(active.allowedSelectors[1])), uint256(uint32(SWAP)));
        assertEq(registry.challengeWindowOf(id), WINDOW);
    }

    function test_register_rejectsZeroAddresses() public {
        Policy memory p = _defaultPolicy();
        bytes32[] memory d = _digests();
        vm.expectRevert(AgentRegistry.ZeroAddress.selector);
        registry.register(address(0), agentWallet, 0, d, p, POLICY_DELAY);
        vm.expectRevert(AgentRegistry.ZeroAddress.selector);
        registry.register(operator, address(0), 0, d, p, POLICY_DELAY);
    }

    function test_register_rejectsShortPolicyDelay() public {
        Policy memory p = _defaultPolicy();
        bytes32[] memory d = _digests();
        vm.expectRevert(
            abi.encodeWithSelector(
                AgentRegistry.PolicyDelayTooShort.selector, MIN_POLICY_DELAY - 1, MIN_POLICY_DELAY
            )
        );
        registry.register(operator, agentWallet, 0, d, p, MIN_POLICY_DELAY - 1);
    }

    function test_register_rejectsLongLists() public {
        uint256 max = registry.MAX_LIST_LENGTH();
        Policy memory p = _defaultPolicy();
        bytes32[] memory d = new bytes32[](max + 1);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.ListTooLong.selector, max + 1, max));
        registry.register(operator, agentWallet, 0, d, p, POLICY_DELAY);

        d = new bytes32[](max);
        p.allowedTargets = new address[](max + 1);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.ListTooLong.selector, max + 1, max));
        registry.register(operator, agentWallet, 0, d, p, POLICY_DELAY);

        p.allowedTargets = new address[](max);
        p.allowedSelectors = new bytes4[](max + 1);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.ListTooLong.selector, max + 1, max));
        registry.register(operator, agentWallet, 0, d, p, POLICY_DELAY);

        p.allowedSelectors = new bytes4[](max);
        registry.register(operator, agentWallet, 0, d, p, POLICY_DELAY);
    }

    function test_register_rejectsWindowsNotShorterThanUnbonding() public {
        bytes32[] memory d = _digests();
        uint64 limit = UNBONDING_DELAY - DISPUTE_PERIOD; // window + disputePeriod must stay below unbonding
        Policy memory p = _policy(MAX_VALUE, limit, COMMIT_DEADLINE);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.WindowTooLong.selector, UNBONDING_DELAY, UNBONDING_DELAY));
        registry.register(operator, agentWallet, 0, d, p, POLICY_DELAY);

        p = _policy(MAX_VALUE, WINDOW, limit + 7);
        vm.expectRevert(
            abi.encodeWithSelector(AgentRegistry.WindowTooLong.selector, UNBONDING_DELAY + 7, UNBONDING_DELAY)
        );
        registry.register(operator, agentWallet, 0, d, p, POLICY_DELAY);

        p = _policy(MAX_VALUE, limit - 1, limit - 1);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.PolicyDelayTooShort.selector, POLICY_DELAY, limit - 1));
        registry.register(operator, agentWallet, 0, d, p, POLICY_DELAY);
        uint256 id = registry.register(operator, agentWallet, 0, d, p, limit - 1);
        assertEq(registry.challengeWindowOf(id), limit - 1);
    }

    /// forge-config: default.fuzz.runs = 512
    function testFuzz_register_windowBound(uint64 window, uint64 deadline) public {
        bytes32[] memory d = _digests();
        Policy memory p = _policy(MAX_VALUE, window, deadline);
        uint256 longest = window > deadline ? window : deadline;
        if (window < registry.MIN_CHALLENGE_WINDOW()) {
            vm.expectRevert(
                abi.encodeWithSelector(AgentRegistry.WindowTooShort.selector, window, registry.MIN_CHALLENGE_WINDOW())
            );
            registry.register(operator, agentWallet, 0, d, p, POLICY_DELAY);
        } else if (longest + DISPUTE_PERIOD >= UNBONDING_DELAY) {
            uint256 sum = longest + DISPUTE_PERIOD;
            uint64 reported = sum > type(uint64).max ? type(uint64).max : uint64(sum);
            vm.expectRevert(abi.encodeWithSelector(AgentRegistry.WindowTooLong.selector, reported, UNBONDING_DELAY));
            registry.register(operator, agentWallet, 0, d, p, POLICY_DELAY);
        } else {
            uint256 id = registry.register(operator, agentWallet, 0, d, p, window > POLICY_DELAY ? window : POLICY_DELAY);
            assertEq(registry.challengeWindowOf(id), window);
        }
    }

    function testFuzz_register_policyDelay(uint64 delay) public {
        Policy memory p = _defaultPolicy();
        bytes32[] memory d = _digests();
        if (delay < MIN_POLICY_DELAY) {
            vm.expectRevert(
                abi.encodeWithSelector(AgentRegistry.PolicyDelayTooShort.selector, delay, MIN_POLICY_DELAY)
            );
        }
        uint256 id = registry.register(operator, agentWallet, 0, d, p, delay);
        if (delay >= MIN_POLICY_DELAY) assertEq(registry.agent(id).policyDelay, delay);
    }

    function testFuzz_constructor_delays(uint64 disputePeriod, uint64 unbonding) public {
        if (unbonding <= disputePeriod) {
            vm.expectRevert(abi.encodeWithSelector(AgentRegistry.WindowTooLong.selector, disputePeriod, unbonding));
            new AgentRegistry(disputePeriod, unbonding, 0);
        } else {
            AgentRegistry r = new AgentRegistry(disputePeriod, unbonding, 0);
            assertEq(r.disputePeriod(), disputePeriod);
            assertEq(r.unbondingDelay(), unbonding);
        }
    }

    function test_views_unknownAgent() public {
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 5));
        registry.agent(5);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 5));
        registry.version(5, 1);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 5));
        registry.activePolicy(5);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 5));
        registry.challengeWindowOf(5);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 5));
        registry.openDisputes(5);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 0));
        registry.agent(0);
    }

    // ---------------------------------------------------------------- updates

    function _propose(uint256 maxValue) internal returns (uint32) {
        Policy memory p = _policy(maxValue, WINDOW, COMMIT_DEADLINE);
        bytes32[] memory d = _digests();
        vm.prank(owner);
        return registry.proposeUpdate(agentId, keccak256("manifest-v2"), d, p);
    }

    function test_proposeUpdate_onlyOwnerOfKnownAgent() public {
        Policy memory p = _defaultPolicy();
        bytes32[] memory d = _digests();
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.NotAgentOwner.selector, agentId, mallory));
        registry.proposeUpdate(agentId, 0, d, p);
        vm.prank(operator); // the operator is not the owner either
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.NotAgentOwner.selector, agentId, operator));
        registry.proposeUpdate(agentId, 0, d, p);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 99));
        registry.proposeUpdate(99, 0, d, p);
    }

    function test_proposeUpdate_checksWindowAndLists() public {
        Policy memory p = _policy(MAX_VALUE, UNBONDING_DELAY, 0);
        bytes32[] memory d = _digests();
        vm.prank(owner);
        vm.expectRevert(
            abi.encodeWithSelector(
                AgentRegistry.WindowTooLong.selector, UNBONDING_DELAY + DISPUTE_PERIOD, UNBONDING_DELAY
            )
        );
        registry.proposeUpdate(agentId, 0, d, p);
    }

    function test_updateLifecycle_onlyAfterDelay() public {
        uint64 proposedAt = uint64(block.timestamp);
        vm.expectEmit(address(registry));
        emit AgentRegistry.UpdateProposed(agentId, 2, keccak256("manifest-v2"), proposedAt + POLICY_DELAY);
        uint32 v = _propose(2 ether);
        assertEq(v, 2);
        assertEq(registry.agent(agentId).pendingVersion, 2);
        assertEq(registry.agent(agentId).activeVersion, 1);

        // a second proposal while one is pending
        Policy memory p = _defaultPolicy();
        bytes32[] memory d = _digests();
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UpdatePending.selector, agentId, 2));
        registry.proposeUpdate(agentId, 0, d, p);

        vm.warp(proposedAt + POLICY_DELAY - 1);
        vm.expectRevert(
            abi.encodeWithSelector(AgentRegistry.UpdateNotReady.selector, agentId, proposedAt + POLICY_DELAY)
        );
        vm.prank(owner);
        registry.activateUpdate(agentId);

        vm.warp(proposedAt + POLICY_DELAY);
        vm.expectEmit(address(registry));
        emit AgentRegistry.UpdateActivated(agentId, 2);
        // only the owner: a stranger switching the version under a running service would
        // make its next call cite a version no longer in force
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.NotAgentOwner.selector, agentId, stranger));
        registry.activateUpdate(agentId);
        vm.prank(owner);
        registry.activateUpdate(agentId);

        AgentRegistry.Agent memory a = registry.agent(agentId);
        assertEq(a.activeVersion, 2);
        assertEq(a.pendingVersion, 0);
        assertEq(a.versionCount, 2);
        assertEq(registry.version(agentId, 1).activeUntil, block.timestamp);
        assertEq(registry.version(agentId, 2).activeFrom, block.timestamp);
        assertEq(registry.version(agentId, 2).manifestHash, keccak256("manifest-v2"));
        (Policy memory active,) = registry.activePolicy(agentId);
        assertEq(active.maxValuePerTx, 2 ether);

        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.NoUpdatePending.selector, agentId));
        vm.prank(owner);
        registry.activateUpdate(agentId);
    }

    function test_cancelUpdate() public {
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.NoUpdatePending.selector, agentId));
        registry.cancelUpdate(agentId);

        _propose(2 ether);
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.NotAgentOwner.selector, agentId, mallory));
        registry.cancelUpdate(agentId);

        vm.expectEmit(address(registry));
        emit AgentRegistry.UpdateCancelled(agentId, 2);
        vm.prank(owner);
        registry.cancelUpdate(agentId);
        assertEq(registry.agent(agentId).pendingVersion, 0);

        vm.warp(block.timestamp + POLICY_DELAY);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.NoUpdatePending.selector, agentId));
        vm.prank(owner);
        registry.activateUpdate(agentId);
        // the cancelled number stays taken and never becomes active
        assertEq(_propose(3 ether), 3);
        assertEq(
            uint8(registry.evaluate(agentId, 2, shop, 0, "", uint64(block.timestamp))), uint8(Breach.UnknownPolicy)
        );
    }

    function test_updates_blockedWhileDisputeOpen() public {
        _propose(2 ether);
        vm.warp(block.timestamp + POLICY_DELAY);
        uint256 d = _openDispute(challenger, DisputeKind.UntracedAction, agentId, 0, 0, keccak256("tx"));
        assertEq(registry.openDisputes(agentId), 1);

        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.DisputeOpen.selector, agentId));
        vm.prank(owner);
        registry.activateUpdate(agentId);

        // cancel, then try to propose again while the dispute is open
        vm.prank(owner);
        registry.cancelUpdate(agentId);
        Policy memory p = _defaultPolicy();
        bytes32[] memory digests = _digests();
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.DisputeOpen.selector, agentId));
        registry.proposeUpdate(agentId, 0, digests, p);

        vm.warp(block.timestamp + DISPUTE_PERIOD + 1);
        game.resolveExpired(d);
        assertEq(registry.openDisputes(agentId), 0);
        assertEq(_propose(2 ether), 3);
    }

    // ---------------------------------------------------------------- dispute bookkeeping

    function test_disputeHooks_onlyDisputeGame() public {
        vm.prank(mallory);
        vm.expectRevert(AgentRegistry.OnlyDisputeGame.selector);
        registry.disputeOpened(agentId);
        vm.prank(owner);
        vm.expectRevert(AgentRegistry.OnlyDisputeGame.selector);
        registry.disputeClosed(agentId);

        vm.prank(address(game));
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.NoOpenDispute.selector, agentId));
        registry.disputeClosed(agentId);
        vm.prank(address(game));
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 42));
        registry.disputeOpened(42);

        vm.expectEmit(address(registry));
        emit AgentRegistry.OpenDisputesChanged(agentId, 1);
        vm.prank(address(game));
        registry.disputeOpened(agentId);
        vm.expectEmit(address(registry));
        emit AgentRegistry.OpenDisputesChanged(agentId, 0);
        vm.prank(address(game));
        registry.disputeClosed(agentId);
    }

    // ---------------------------------------------------------------- policy evaluation

    function _eval(uint32 v, address to, uint256 value, bytes memory data) internal view returns (Breach) {
        return registry.evaluate(agentId, v, to, value, data, uint64(block.timestamp));
    }

    function test_evaluate_honestSteps() public view {
        assertEq(uint8(_eval(1, shop, 0, "")), uint8(Breach.None));
        assertEq(uint8(_eval(1, shop, MAX_VALUE, "")), uint8(Breach.None), "exactly the cap");
        assertEq(uint8(_eval(1, dex, 0, abi.encodeWithSelector(SWAP, shop, 1, 2))), uint8(Breach.None));
        assertEq(uint8(_eval(1, dex, 0, abi.encodePacked(TRANSFER))), uint8(Breach.None), "bare selector");
    }

    function test_evaluate_valueCap() public view {
        assertEq(uint8(_eval(1, shop, MAX_VALUE + 1, "")), uint8(Breach.ValueCap));
        assertEq(uint8(_eval(1, mallory, MAX_VALUE + 1, "")), uint8(Breach.ValueCap), "checked first");
    }

    function test_evaluate_targetNotAllowed() public view {
        assertEq(uint8(_eval(1, mallory, 1, "")), uint8(Breach.TargetNotAllowed));
        assertEq(uint8(_eval(1, address(0), 0, "")), uint8(Breach.TargetNotAllowed));
    }

    function test_evaluate_selectorNotAllowed() public view {
        assertEq(uint8(_eval(1, dex, 0, abi.encodeWithSelector(APPROVE, mallory, 1))), uint8(Breach.SelectorNotAllowed));
        // calldata shorter than a selector, even a prefix of an allowed one
        bytes memory prefix = abi.encodePacked(TRANSFER);
        assertEq(uint8(_eval(1, dex, 0, hex"a9")), uint8(Breach.SelectorNotAllowed));
        assertEq(uint8(_eval(1, dex, 0, abi.encodePacked(prefix[0], prefix[1]))), uint8(Breach.SelectorNotAllowed));
        assertEq(
            uint8(_eval(1, dex, 0, abi.encodePacked(prefix[0], prefix[1], prefix[2]))), uint8(Breach.SelectorNotAllowed)
        );
        assertEq(uint8(_eval(1, dex, 0, hex"00000000")), uint8(Breach.SelectorNotAllowed), "zero selector");
    }

    function test_evaluate_unknownVersions() public {
        assertEq(uint8(_eval(0, shop, 0, "")), uint8(Breach.UnknownPolicy), "version 0");
        assertEq(uint8(_eval(7, shop, 0, "")), uint8(Breach.UnknownPolicy), "never proposed");
        _propose(5 ether);
        assertEq(uint8(_eval(2, shop, 2 ether, "")), uint8(Breach.UnknownPolicy), "pending");
        vm.warp(block.timestamp + POLICY_DELAY);
        vm.prank(owner);
        registry.activateUpdate(agentId);
        uint64 activeFrom = uint64(block.timestamp);
        assertEq(uint8(_eval(2, shop, 2 ether, "")), uint8(Breach.None), "active now");
        // a batch committed before the version became active cannot cite it
        assertEq(
            uint8(registry.evaluate(agentId, 2, shop, 2 ether, "", activeFrom - 1)), uint8(Breach.UnknownPolicy)
        );
        // version 1 did not exist before registration either
        uint64 registeredAt = registry.agent(agentId).registeredAt;
        assertEq(uint8(registry.evaluate(agentId, 1, shop, 0, "", registeredAt - 1)), uint8(Breach.UnknownPolicy));
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 9));
        registry.evaluate(9, 1, shop, 0, "", uint64(block.timestamp));
    }

    function test_evaluate_stalePolicy() public {
        _propose(0.1 ether); // v2 tightens the cap
        vm.warp(block.timestamp + POLICY_DELAY);
        vm.prank(owner);
        registry.activateUpdate(agentId);
        uint64 replacedAt = uint64(block.timestamp);
        // within v1's commit deadline after replacement, v1 still judges (honest in-flight tx)
        assertEq(uint8(registry.evaluate(agentId, 1, shop, 1 ether, "", replacedAt)), uint8(Breach.None));
        assertEq(
            uint8(registry.evaluate(agentId, 1, shop, 1 ether, "", replacedAt + COMMIT_DEADLINE - 1)),
            uint8(Breach.None)
        );
        assertEq(
            uint8(registry.evaluate(agentId, 1, mallory, 1 ether, "", replacedAt + COMMIT_DEADLINE - 1)),
            uint8(Breach.TargetNotAllowed),
            "still judged by v1's rules"
        );
        // from the deadline on, citing the old version is itself the breach
        assertEq(
            uint8(registry.evaluate(agentId, 1, shop, 0, "", replacedAt + COMMIT_DEADLINE)), uint8(Breach.StalePolicy)
        );
        assertEq(uint8(registry.evaluate(agentId, 2, shop, 1 ether, "", replacedAt)), uint8(Breach.ValueCap));
    }

    function testFuzz_evaluate_valueCap(uint256 value) public view {
        Breach b = _eval(1, shop, value, "");
        assertEq(uint8(b), value > MAX_VALUE ? uint8(Breach.ValueCap) : uint8(Breach.None));
    }

    function testFuzz_evaluate_selector(bytes memory data) public view {
        Breach b = _eval(1, dex, 0, data);
        bool ok = data.length == 0
            || (data.length >= 4 && (bytes4(data) == TRANSFER || bytes4(data) == SWAP));
        assertEq(uint8(b), ok ? uint8(Breach.None) : uint8(Breach.SelectorNotAllowed));
    }

    function testFuzz_evaluate_staleBoundary(uint64 delta) public {
        _propose(MAX_VALUE);
        vm.warp(block.timestamp + POLICY_DELAY);
        vm.prank(owner);
        registry.activateUpdate(agentId);
        uint64 replacedAt = uint64(block.timestamp);
        delta = uint64(bound(delta, 0, 365 days));
        Breach b = registry.evaluate(agentId, 1, shop, 0, "", replacedAt + delta);
        assertEq(uint8(b), delta >= COMMIT_DEADLINE ? uint8(Breach.StalePolicy) : uint8(Breach.None));
    }
}
